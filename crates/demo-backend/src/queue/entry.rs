//! One order as a stream entry: its fields, written by the backend and read back by the
//! worker, with the enqueue time (Unix milliseconds) the end-to-end latency is measured from.

use std::time::{SystemTime, UNIX_EPOCH};

use redis::streams::StreamId;

const REGION: &str = "region";
const ITEMS: &str = "items";
const AMOUNT: &str = "amount";
const ENQUEUED_MS: &str = "enqueued_ms";

/// An order on the stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) region: String,
    pub(crate) items: u32,
    pub(crate) amount: f64,
    /// Wall-clock time of the XADD, in Unix milliseconds: the backend and the worker may be
    /// different processes (or pods), so a monotonic clock cannot be shared.
    pub(crate) enqueued_ms: u64,
}

/// A stream entry that is not an order (written by something else, or damaged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream entry {id}: field `{field}` is missing or not valid")]
pub(crate) struct EntryError {
    pub(crate) id: String,
    pub(crate) field: &'static str,
}

/// Now, in Unix milliseconds (0 for a clock before 1970, which only a broken host has).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Entry {
    /// The field/value pairs of the XADD.
    pub(crate) fn fields(&self) -> [(&'static str, String); 4] {
        [
            (REGION, self.region.clone()),
            (ITEMS, self.items.to_string()),
            (AMOUNT, self.amount.to_string()),
            (ENQUEUED_MS, self.enqueued_ms.to_string()),
        ]
    }

    /// Reads an entry delivered by XREADGROUP.
    pub(crate) fn from_stream(id: &StreamId) -> Result<Self, EntryError> {
        let missing = |field| EntryError {
            id: id.id.clone(),
            field,
        };
        let text = |field: &'static str| id.get::<String>(field).ok_or_else(|| missing(field));
        let region = text(REGION)?;
        let items = text(ITEMS)?.parse().map_err(|_| missing(ITEMS))?;
        let amount = text(AMOUNT)?
            .parse::<f64>()
            .ok()
            .filter(|a| a.is_finite())
            .ok_or_else(|| missing(AMOUNT))?;
        let enqueued_ms = text(ENQUEUED_MS)?
            .parse()
            .map_err(|_| missing(ENQUEUED_MS))?;
        Ok(Self {
            region,
            items,
            amount,
            enqueued_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use redis::Value;

    use super::*;

    fn stream_id(fields: &[(&str, &str)]) -> StreamId {
        StreamId {
            id: "1-0".into(),
            map: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::BulkString(v.as_bytes().to_vec())))
                .collect::<HashMap<_, _>>(),
            ..StreamId::default()
        }
    }

    #[test]
    fn an_entry_reads_back_what_was_written() {
        let entry = Entry {
            region: "eu-west".into(),
            items: 3,
            amount: 12.25,
            enqueued_ms: 1_700_000_000_123,
        };
        let fields: Vec<(&str, String)> = entry.fields().into();
        let written: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(Entry::from_stream(&stream_id(&written)).unwrap(), entry);
    }

    #[test]
    fn a_foreign_entry_names_the_bad_field() {
        let e = Entry::from_stream(&stream_id(&[("region", "eu")])).unwrap_err();
        assert_eq!(e.field, ITEMS);
        let e = Entry::from_stream(&stream_id(&[
            ("region", "eu"),
            ("items", "1"),
            ("amount", "NaN"),
            ("enqueued_ms", "1"),
        ]))
        .unwrap_err();
        assert_eq!(e.field, AMOUNT);
        assert!(e.to_string().contains("1-0"), "{e}");
    }
}
