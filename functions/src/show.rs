//! Text helpers for [`nfv_dataplane::Element::tables`] (the admin API's tables).

use std::time::Duration;

/// `aa:bb:cc:dd:ee:ff`.
pub(crate) fn mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// Whole seconds (rounded down), as the tables' `age_s` and `expires_in_s` columns show them.
pub(crate) fn secs(d: Duration) -> String {
    d.as_secs().to_string()
}

/// IP protocol number as a name where there is one.
pub(crate) fn proto(p: u8) -> String {
    match p {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        n => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(mac(&[2, 0, 0, 0, 0xab, 1]), "02:00:00:00:ab:01");
        assert_eq!(secs(Duration::from_millis(2999)), "2");
        assert_eq!(proto(6), "tcp");
        assert_eq!(proto(47), "47");
    }
}
