//! Kubernetes resource quantities (`250m`, `12345678n`, `64Mi`, `1.5k`) as plain numbers, for
//! the HPA's status (orchestrator and frontend) and the metrics API alike.

/// A Kubernetes quantity (`250m`, `12345678n`, `64Mi`, `1G`, `2`) as a number.
pub fn quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let n: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0_f64.powi(2),
        "Gi" => 1024.0_f64.powi(3),
        "Ti" => 1024.0_f64.powi(4),
        _ => return None,
    };
    Some(n * factor)
}

#[cfg(test)]
mod tests {
    use super::quantity;

    #[test]
    fn decimal_and_binary_suffixes_scale_the_number() {
        assert_eq!(quantity("12"), Some(12.0));
        assert_eq!(quantity("250m"), Some(0.25));
        assert_eq!(quantity("1.5k"), Some(1500.0));
        assert_eq!(quantity("1500000n"), Some(0.0015));
        assert_eq!(quantity("64Mi"), Some(64.0 * 1_048_576.0));
        assert_eq!(quantity("3x"), None);
        assert_eq!(quantity("3Qi"), None);
        assert_eq!(quantity(""), None);
    }
}
