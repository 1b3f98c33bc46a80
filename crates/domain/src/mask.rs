//! Masking of personal data shown to people who do not need it in full (脱敏).

/// A mobile number (11 digits starting with 1) as `138****5678`; anything not shaped like one is masked entirely but for
/// its last two characters.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if digits.len() == 11 && digits[0] == '1' && digits.iter().all(char::is_ascii_digit) {
        let s: String = digits.iter().collect();
        return format!("{}****{}", &s[..3], &s[7..]);
    }
    let keep = digits.len().min(2);
    let hidden = digits.len() - keep;
    let tail: String = digits[hidden..].iter().collect();
    format!("{}{}", "*".repeat(hidden), tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_numbers_keep_three_and_four() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("138 1234 5678"), "138****5678");
    }

    #[test]
    fn other_numbers_keep_only_two() {
        assert_eq!(mask_phone("0377-6691234"), "*********34");
        assert_eq!(mask_phone("1"), "1");
        assert_eq!(mask_phone(""), "");
    }
}
