//! Encryption at rest of personal data (resident ID numbers, phone numbers): AES-256-GCM with
//! a random nonce per value, and a keyed hash (HMAC-SHA256) to find a value without
//! decrypting. Both keys derive from one 32-byte master key, taken from `LIANDONG_DATA_KEY`
//! (64 hex digits) or from the key file `liandong.key` beside the database, which is created
//! on first start (mode 0600). Without the key the encrypted columns cannot be read: back the
//! key up apart from the database.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::error::{Result, ServiceError};

type HmacSha256 = Hmac<Sha256>;

/// The name of the key file in the data directory.
pub const KEY_FILE: &str = "liandong.key";

#[derive(Clone)]
pub struct Vault {
    cipher: Aes256Gcm,
    lookup: HmacSha256,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(..)")
    }
}

fn derive(master: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(master).expect("HMAC takes keys of any length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

fn parse_key(hex_key: &str) -> Result<[u8; 32]> {
    let bytes = hex::decode(hex_key.trim()).map_err(|_| {
        ServiceError::Internal("LIANDONG_DATA_KEY 应为 64 位十六进制数字（32 字节）".into())
    })?;
    bytes.try_into().map_err(|_| {
        ServiceError::Internal("LIANDONG_DATA_KEY 应为 64 位十六进制数字（32 字节）".into())
    })
}

impl Vault {
    pub fn from_master(master: &[u8; 32]) -> Vault {
        let enc = derive(master, b"liandong personal data encryption v1");
        let look = derive(master, b"liandong personal data lookup v1");
        Vault {
            cipher: Aes256Gcm::new(&enc.into()),
            lookup: <HmacSha256 as Mac>::new_from_slice(&look)
                .expect("HMAC takes keys of any length"),
        }
    }

    /// The master key from `env_key`, or from the key file in `data_dir`, created if missing.
    pub fn load(env_key: Option<&str>, data_dir: &Path) -> Result<Vault> {
        if let Some(k) = env_key.filter(|k| !k.trim().is_empty()) {
            return Ok(Vault::from_master(&parse_key(k)?));
        }
        let path = data_dir.join(KEY_FILE);
        let key = match std::fs::read_to_string(&path) {
            Ok(s) => parse_key(&s).map_err(|_| {
                ServiceError::Internal(format!("密钥文件 {} 已损坏", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0_u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                write_key_file(&path, &hex::encode(key))?;
                key
            }
            Err(e) => {
                return Err(ServiceError::Internal(format!(
                    "无法读取密钥文件 {}：{e}",
                    path.display()
                )))
            }
        };
        Ok(Vault::from_master(&key))
    }

    /// `nonce || ciphertext`, hex-encoded.
    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0_u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        hex::encode(out)
    }

    /// `nonce || ciphertext` of a whole file (a delivered data set).
    pub fn seal_bytes(&self, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0_u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(12 + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open_bytes(&self, sealed: &[u8]) -> Result<Vec<u8>> {
        let bad = || ServiceError::Internal("加密文件无法解密（密钥不符或文件损坏）".into());
        if sealed.len() < 12 {
            return Err(bad());
        }
        let (nonce, ct) = sealed.split_at(12);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| bad())
    }

    pub fn open(&self, sealed: &str) -> Result<String> {
        let bad = || ServiceError::Internal("加密数据无法解密（密钥不符或数据损坏）".into());
        let bytes = hex::decode(sealed).map_err(|_| bad())?;
        if bytes.len() < 12 {
            return Err(bad());
        }
        let (nonce, ct) = bytes.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| bad())?;
        String::from_utf8(plain).map_err(|_| bad())
    }

    /// A keyed hash of a normalised value: equal values give equal hashes, and without the
    /// key nobody can test a guessed ID number against it.
    pub fn lookup(&self, plain: &str) -> String {
        let mut mac = self.lookup.clone();
        mac.update(plain.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

fn write_key_file(path: &Path, hex_key: &str) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .map_err(|e| ServiceError::Internal(format!("无法创建密钥文件 {}：{e}", path.display())))?;
    f.write_all(hex_key.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| ServiceError::Internal(format!("无法写入密钥文件 {}：{e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_differ_each_time() {
        let v = Vault::from_master(&[7; 32]);
        let a = v.seal("411321199001011234");
        let b = v.seal("411321199001011234");
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.contains("411321"));
        assert_eq!(v.open(&a).expect("open"), "411321199001011234");
        let other = Vault::from_master(&[8; 32]);
        assert!(other.open(&a).is_err());
        let mut tampered = a.clone();
        tampered.replace_range(30..32, if &a[30..32] == "00" { "01" } else { "00" });
        assert!(v.open(&tampered).is_err());
    }

    #[test]
    fn lookups_are_stable_and_keyed() {
        let v = Vault::from_master(&[7; 32]);
        assert_eq!(v.lookup("x"), v.lookup("x"));
        assert_ne!(v.lookup("x"), v.lookup("y"));
        assert_ne!(v.lookup("x"), Vault::from_master(&[8; 32]).lookup("x"));
    }

    #[test]
    fn the_key_file_is_created_once_and_kept_private() {
        let dir = tempfile::tempdir().expect("dir");
        let a = Vault::load(None, dir.path()).expect("create");
        let b = Vault::load(None, dir.path()).expect("read");
        assert_eq!(b.open(&a.seal("秘密")).expect("open"), "秘密");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let env = Vault::load(Some(&"ab".repeat(32)), dir.path()).expect("env");
        assert!(env.open(&a.seal("x")).is_err(), "the environment key wins");
        assert!(Vault::load(Some("not hex"), dir.path()).is_err());
    }
}
