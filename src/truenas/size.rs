//! Sizes as written in stack.yaml (`500GiB`, `2T`, `1073741824`) and as shown back (`500 GiB`).
//! Binary units throughout: TrueNAS shows sizes in KiB/MiB/GiB, and ZFS `1T` means 1 TiB.

const UNITS: [(&str, u32); 6] = [("", 0), ("K", 1), ("M", 2), ("G", 3), ("T", 4), ("P", 5)];

/// Bytes from `1073741824`, `1G`, `1GiB`, `1.5 TiB` (case-insensitive; `B` optional).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || {
        format!("`{s}` is not a size; write bytes or a number with K, M, G, T or P (binary: 1G = 1 GiB), e.g. 500GiB")
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    let u = unit.trim().to_ascii_uppercase();
    let u = u
        .strip_suffix("IB")
        .or_else(|| u.strip_suffix('B'))
        .unwrap_or(&u);
    let exp = UNITS
        .iter()
        .find(|(name, _)| *name == u)
        .map(|(_, e)| *e)
        .ok_or_else(bad)?;
    let bytes = n * 1024f64.powi(exp as i32);
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes.round() as u64)
}

/// `1.5 GiB`, `96 KiB`, `512 B`: like TrueNAS' `value` fields.
pub fn human(bytes: u64) -> String {
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        return format!("{bytes} B");
    }
    let n = format!("{v:.1}");
    let n = n.strip_suffix(".0").unwrap_or(&n);
    format!("{n} {}iB", UNITS[unit].0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_binary_units() {
        assert_eq!(parse_size("1073741824").unwrap(), 1 << 30);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("500GiB").unwrap(), 500 << 30);
        assert_eq!(parse_size("1.5 tib").unwrap(), 3 << 39);
        assert_eq!(parse_size("0").unwrap(), 0);
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
        assert!(parse_size("5X").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn sizes_show_like_truenas() {
        assert_eq!(human(98304), "96 KiB");
        assert_eq!(human(3 << 29), "1.5 GiB");
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1 << 40), "1 TiB");
    }
}
