//! The password policy (密码策略) required by a level-3 security review: length, character
//! classes, and a blocklist of common passwords and of the user's own names.

/// Passwords people pick first; compared case-insensitively, and also by their letters alone
/// so that `Password@2024` is caught by `password`.
const COMMON: &[&str] = &[
    "password",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "admin",
    "administrator",
    "root",
    "qwerty",
    "qwertyuiop",
    "asdfgh",
    "asdfghjkl",
    "zxcvbn",
    "zxcvbnm",
    "qazwsx",
    "qwe",
    "qweasd",
    "qweasdzxc",
    "abc",
    "abcd",
    "abcdef",
    "iloveyou",
    "woaini",
    "welcome",
    "letmein",
    "test",
    "guest",
    "user",
    "login",
    "changeme",
    "default",
    "secret",
    "master",
    "monkey",
    "dragon",
    "liandong",
    "nanzhao",
    "zhongguo",
    "china",
    "beijing",
    "huawei",
    "xiangcunzhenxing",
    "tuopin",
    "fupin",
    "gongwuyuan",
    "zhengfu",
    "a",
    "aa",
    "aaa",
    "aaaa",
    "abc123",
    "1qaz2wsx",
    "1qaz2wsx3edc",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "qwer1234",
    "1234qwer",
    "aa123456",
    "a123456",
    "123456",
    "12345678",
    "123456789",
    "1234567890",
    "123123",
    "111111",
    "000000",
    "888888",
    "666666",
    "5201314",
    "147258369",
    "987654321",
];

/// The policy's settings; every number is configurable (LIANDONG_PASSWORD_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
    /// How many of the four classes (upper, lower, digit, symbol) must appear.
    pub min_classes: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 12,
            min_classes: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("密码至少需要 {0} 个字符")]
    TooShort(usize),
    #[error("密码过长（最多 {0} 个字符）")]
    TooLong(usize),
    #[error("密码需包含大写字母、小写字母、数字、符号中的至少 {0} 类")]
    TooFewClasses(usize),
    #[error("密码过于常见，容易被猜中，请换一个")]
    Common,
    #[error("密码不能包含用户名或姓名")]
    ContainsName,
    #[error("新密码不能与原密码相同")]
    Unchanged,
}

/// Long enough for any passphrase, short enough that hashing it costs nothing unusual.
const MAX_LENGTH: usize = 128;

impl PasswordPolicy {
    /// Checks a new password for a user named `username` (login) and `names` (display names).
    pub fn check(
        &self,
        password: &str,
        username: &str,
        names: &[&str],
    ) -> Result<(), PasswordProblem> {
        let len = password.chars().count();
        if len < self.min_length {
            return Err(PasswordProblem::TooShort(self.min_length));
        }
        if len > MAX_LENGTH {
            return Err(PasswordProblem::TooLong(MAX_LENGTH));
        }
        let classes = [
            password.chars().any(|c| c.is_uppercase()),
            password.chars().any(|c| c.is_lowercase()),
            password.chars().any(|c| c.is_ascii_digit()),
            password.chars().any(|c| !c.is_alphanumeric()),
        ]
        .into_iter()
        .filter(|&b| b)
        .count();
        if classes < self.min_classes {
            return Err(PasswordProblem::TooFewClasses(self.min_classes));
        }
        let lower = password.to_lowercase();
        let letters: String = lower.chars().filter(|c| c.is_alphabetic()).collect();
        let digits: String = lower.chars().filter(|c| c.is_ascii_digit()).collect();
        // Leetspeak spellings (p@ssw0rd) are the same word to an attacker's dictionary.
        let unleet: String = lower
            .chars()
            .map(|c| match c {
                '@' => 'a',
                '0' => 'o',
                '$' => 's',
                c => c,
            })
            .filter(|c| c.is_alphabetic())
            .collect();
        let alnum: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
        let is_common = |w: &&str| {
            lower == *w
                || alnum == *w
                // A long dictionary entry with a character or two added is no stronger.
                || (w.len() >= 8 && (alnum.contains(*w) || unleet.contains(*w)))
                || (!letters.is_empty() && (letters == *w || unleet == *w))
        };
        // A password made of a keyboard walk or a digit run with symbols around is still common.
        if COMMON.iter().any(is_common) || (letters.len() <= 1 && COMMON.contains(&digits.as_str()))
        {
            return Err(PasswordProblem::Common);
        }
        let contains = |name: &str| {
            let n = name.trim().to_lowercase();
            n.chars().count() >= 2 && lower.contains(&n)
        };
        if contains(username) || names.iter().any(|n| contains(n)) {
            return Err(PasswordProblem::ContainsName);
        }
        Ok(())
    }

    /// A human description of the policy for forms.
    pub fn describe(&self) -> String {
        format!(
            "至少 {} 个字符，包含大写字母、小写字母、数字、符号中的至少 {} 类，不能是常见密码，不能包含用户名或姓名",
            self.min_length, self.min_classes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: &str) -> Result<(), PasswordProblem> {
        PasswordPolicy::default().check(p, "zhangwei", &["张伟"])
    }

    #[test]
    fn strong_passwords_pass() {
        assert_eq!(check("Hz7#river-stone"), Ok(()));
        assert_eq!(check("南召Tea-garden-9"), Ok(()));
        assert_eq!(check("correct horse battery 9"), Ok(()));
    }

    #[test]
    fn length_and_classes() {
        assert_eq!(check("Ab1!xyzuvw"), Err(PasswordProblem::TooShort(12)));
        assert_eq!(
            check("abcdefghijklmnop"),
            Err(PasswordProblem::TooFewClasses(3))
        );
        assert_eq!(
            check("abcdefgh12345678"),
            Err(PasswordProblem::TooFewClasses(3))
        );
        assert_eq!(
            check(&"Aa1!".repeat(40)),
            Err(PasswordProblem::TooLong(128))
        );
        let lax = PasswordPolicy {
            min_length: 8,
            min_classes: 2,
        };
        assert_eq!(lax.check("abcd1234xy", "u", &[]), Ok(()));
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_decoration() {
        for p in [
            "Password@2024",
            "P@ssw0rd1234",
            "Admin@123456",
            "Qwer1234!@#$",
            "1qaz2wsx3edc!Q",
            "Liandong@2023",
            "!!123456789!!a",
        ] {
            assert_eq!(check(p), Err(PasswordProblem::Common), "{p}");
        }
    }

    #[test]
    fn own_names_are_refused() {
        assert_eq!(check("Zhangwei#2023x"), Err(PasswordProblem::ContainsName));
        assert_eq!(
            check("我是张伟Secure#1"),
            Err(PasswordProblem::ContainsName)
        );
    }
}
