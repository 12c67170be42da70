//! Tests of the fake API server itself: what the kube tests rest on.
