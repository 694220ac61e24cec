//! The alert function's deployment package: the handler in `lambda/alerts/` compiled in, zipped reproducibly,
//! and its `CodeSha256`. Pure.

use sha2::{Digest, Sha256};

/// The alert function's source, packaged into its zip at apply time.
pub const HANDLER_SOURCE: &str = include_str!("../../../lambda/alerts/handler.py");
/// The file name inside the zip (the module of `kinds::function::HANDLER`).
pub const HANDLER_FILE: &str = "handler.py";

/// The function's deployment package: a zip holding the handler, stored (not deflated) with a fixed timestamp,
/// so the same source always gives the same bytes and the same `CodeSha256`.
pub fn package() -> Vec<u8> {
    stored_zip(HANDLER_FILE, HANDLER_SOURCE.as_bytes())
}

/// What Lambda reports as the code's `CodeSha256`: base64 of the package's SHA-256.
pub fn code_sha256() -> String {
    base64(&Sha256::digest(package()))
}

fn stored_zip(name: &str, data: &[u8]) -> Vec<u8> {
    let crc = crc32fast::hash(data);
    let (size, name_len) = (data.len() as u32, name.len() as u16);
    // 1980-01-01 00:00, the earliest MS-DOS date: a fixed time keeps the package reproducible.
    let (time, date) = (0u16, (1 << 5) | 1);
    let mut out = Vec::new();
    let common = |out: &mut Vec<u8>| {
        out.extend(20u16.to_le_bytes()); // version needed
        out.extend(0u16.to_le_bytes()); // flags
        out.extend(0u16.to_le_bytes()); // method: stored
        out.extend(time.to_le_bytes());
        out.extend((date as u16).to_le_bytes());
        out.extend(crc.to_le_bytes());
        out.extend(size.to_le_bytes());
        out.extend(size.to_le_bytes());
        out.extend(name_len.to_le_bytes());
        out.extend(0u16.to_le_bytes()); // extra length
    };
    out.extend(0x0403_4b50u32.to_le_bytes());
    common(&mut out);
    out.extend(name.as_bytes());
    out.extend(data);
    let central = out.len() as u32;
    out.extend(0x0201_4b50u32.to_le_bytes());
    out.extend(0x031eu16.to_le_bytes()); // made by: Unix, 3.0
    common(&mut out);
    out.extend(0u16.to_le_bytes()); // comment length
    out.extend(0u16.to_le_bytes()); // disk number
    out.extend(0u16.to_le_bytes()); // internal attributes
    out.extend((0o100644u32 << 16).to_le_bytes()); // external attributes: a regular file, rw-r--r--
    out.extend(0u32.to_le_bytes()); // local header offset
    out.extend(name.as_bytes());
    let central_size = out.len() as u32 - central;
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]); // disk numbers
    out.extend(1u16.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(central_size.to_le_bytes());
    out.extend(central.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_is_a_zip_python_reads_and_is_reproducible() {
        let zip = package();
        assert_eq!(&zip[..4], b"PK\x03\x04");
        assert_eq!(zip, package());
        let dir = std::env::temp_dir().join(format!("eksaudit-zip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.zip");
        std::fs::write(&path, &zip).unwrap();
        let out = std::process::Command::new("python3")
            .args(["-c", "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; sys.stdout.write(z.read('handler.py').decode())"])
            .arg(&path)
            .output()
            .expect("python3 runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), HANDLER_SOURCE);
        std::fs::remove_dir_all(dir).ok();
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
