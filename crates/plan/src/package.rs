//! The deployment packages of the functions eksaudit ships: each handler (`lambda/alerts/`, `lambda/sentinel/`)
//! compiled in, zipped reproducibly, and its `CodeSha256`. Pure.

use eksaudit_spec::{Address, RegionalSlot};
use sha2::{Digest, Sha256};

/// The alert function's source, packaged into its zip at apply time.
pub const HANDLER_SOURCE: &str = include_str!("../../../lambda/alerts/handler.py");
/// The Sentinel transform's source (the Firehose stream's Lambda processor).
pub const TRANSFORM_SOURCE: &str = include_str!("../../../lambda/sentinel/handler.py");
/// The file name inside the zip (the module of `kinds::function::HANDLER`).
pub const HANDLER_FILE: &str = "handler.py";

/// Which of eksaudit's functions a package is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// `[alerts]`: one SNS message per matching audit event.
    Alerts,
    /// `preset = "sentinel"`: envelopes into `AWSEKSLogs_CL` rows.
    SentinelTransform,
}

impl Code {
    /// The code of the function at a desired resource's address (`region.<r>.transform_function`, else alerts).
    pub fn at(address: &str) -> Code {
        match address.parse::<Address>() {
            Ok(Address::Regional { slot: RegionalSlot::TransformFunction, .. }) => Code::SentinelTransform,
            _ => Code::Alerts,
        }
    }

    pub fn source(self) -> &'static str {
        match self {
            Code::Alerts => HANDLER_SOURCE,
            Code::SentinelTransform => TRANSFORM_SOURCE,
        }
    }

    /// The deployment package: a zip holding the handler, stored (not deflated) with a fixed timestamp, so the
    /// same source always gives the same bytes and the same `CodeSha256`.
    pub fn package(self) -> Vec<u8> {
        stored_zip(HANDLER_FILE, self.source().as_bytes())
    }

    /// What Lambda reports as the code's `CodeSha256`: base64 of the package's SHA-256.
    pub fn code_sha256(self) -> String {
        base64(&Sha256::digest(self.package()))
    }
}

/// The alert function's deployment package.
pub fn package() -> Vec<u8> {
    Code::Alerts.package()
}

/// The alert function's `CodeSha256`.
pub fn code_sha256() -> String {
    Code::Alerts.code_sha256()
}

fn stored_zip(name: &str, data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    // 1980-01-01 00:00 (zip's earliest date) and fixed permissions: the same source always gives the same bytes.
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    // Writing into memory cannot fail short of allocation failure; a name and a file of this size fit a zip.
    zip.start_file(name, options).expect("a zip entry in memory");
    zip.write_all(data).expect("written to memory");
    zip.finish().expect("a zip in memory").into_inner()
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_package_is_a_zip_python_reads_and_is_reproducible() {
        for code in [Code::Alerts, Code::SentinelTransform] {
            let zip = code.package();
            assert_eq!(&zip[..4], b"PK\x03\x04");
            assert_eq!(zip, code.package());
            let dir = std::env::temp_dir().join(format!("eksaudit-zip-{}-{code:?}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("f.zip");
            std::fs::write(&path, &zip).unwrap();
            let out = std::process::Command::new("python3")
                .args(["-c", "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; sys.stdout.write(z.read('handler.py').decode())"])
                .arg(&path)
                .output()
                .expect("python3 runs");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            assert_eq!(String::from_utf8(out.stdout).unwrap(), code.source());
            std::fs::remove_dir_all(dir).ok();
        }
        assert_ne!(Code::Alerts.code_sha256(), Code::SentinelTransform.code_sha256());
    }

    #[test]
    fn the_address_says_which_code() {
        assert_eq!(Code::at("region.eu-central-1.transform_function"), Code::SentinelTransform);
        assert_eq!(Code::at("region.eu-central-1.alerts_function"), Code::Alerts);
    }

    #[test]
    fn base64_matches_the_standard_alphabet_with_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(code_sha256().len(), 44);
    }
}
