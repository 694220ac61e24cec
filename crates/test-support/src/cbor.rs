//! moto speaks CloudWatch's JSON 1.0 and query protocols; the Rust SDK speaks only Smithy RPC v2 CBOR. The
//! recording proxy translates: a CBOR request body to JSON for moto, moto's JSON answer back to CBOR. Only what
//! CloudWatch's shapes use: maps, arrays, text, numbers, booleans, null, and timestamps (tag 1, epoch seconds).

use serde_json::{Map, Number, Value};

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.bytes.get(self.at..self.at + n)?;
        self.at += n;
        Some(s)
    }

    fn uint(&mut self, info: u8) -> Option<u64> {
        Some(match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.byte()?),
            25 => u64::from(u16::from_be_bytes(self.take(2)?.try_into().ok()?)),
            26 => u64::from(u32::from_be_bytes(self.take(4)?.try_into().ok()?)),
            27 => u64::from_be_bytes(self.take(8)?.try_into().ok()?),
            _ => return None,
        })
    }

    /// One item; `Err(())` is the break of an indefinite-length item.
    fn item(&mut self) -> Option<Result<Value, ()>> {
        let head = self.byte()?;
        let (major, info) = (head >> 5, head & 31);
        if head == 0xff {
            return Some(Err(()));
        }
        let indefinite = info == 31;
        Some(Ok(match major {
            0 => Value::from(self.uint(info)?),
            1 => Value::from(-1 - self.uint(info)? as i64),
            2 | 3 => {
                let mut text = String::new();
                if indefinite {
                    while let Ok(chunk) = self.item()? {
                        text.push_str(chunk.as_str()?);
                    }
                } else {
                    let n = self.uint(info)? as usize;
                    text.push_str(&String::from_utf8_lossy(self.take(n)?));
                }
                Value::String(text)
            }
            4 => {
                let mut items = Vec::new();
                if indefinite {
                    while let Ok(v) = self.item()? {
                        items.push(v);
                    }
                } else {
                    for _ in 0..self.uint(info)? {
                        items.push(self.item()?.ok()?);
                    }
                }
                Value::Array(items)
            }
            5 => {
                let mut map = Map::new();
                let n = if indefinite { u64::MAX } else { self.uint(info)? };
                let mut i = 0;
                while i < n {
                    let Ok(key) = self.item()? else { break };
                    map.insert(key.as_str()?.to_string(), self.item()?.ok()?);
                    i += 1;
                }
                Value::Object(map)
            }
            // Tags: the value as it is (a timestamp's epoch seconds is what JSON 1.0 sends).
            6 => {
                self.uint(info)?;
                self.item()?.ok()?
            }
            _ => match info {
                20 => Value::Bool(false),
                21 => Value::Bool(true),
                22 | 23 => Value::Null,
                25 => {
                    let h = u16::from_be_bytes(self.take(2)?.try_into().ok()?);
                    Value::from(half(h))
                }
                26 => Value::from(f64::from(f32::from_be_bytes(self.take(4)?.try_into().ok()?))),
                27 => Number::from_f64(f64::from_be_bytes(self.take(8)?.try_into().ok()?))
                    .map_or(Value::Null, Value::Number),
                _ => return None,
            },
        }))
    }
}

fn half(h: u16) -> f64 {
    let (sign, exp, frac) = (if h >> 15 == 1 { -1.0 } else { 1.0 }, (h >> 10) & 0x1f, f64::from(h & 0x3ff));
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 => f64::INFINITY,
        e => (1.0 + frac / 1024.0) * 2f64.powi(i32::from(e) - 15),
    }
}

/// A CBOR document as JSON (`None` when it is not CBOR this handles).
pub fn to_json(bytes: &[u8]) -> Option<Value> {
    if bytes.is_empty() {
        return Some(Value::Object(Map::new()));
    }
    Reader { bytes, at: 0 }.item()?.ok()
}

fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend(n.to_be_bytes());
        }
    }
}

/// JSON as CBOR; the members CloudWatch's answers hold timestamps in (`Timestamps`, `Timestamp`, `...Timestamp`)
/// are tagged as epoch-seconds timestamps.
pub fn from_json(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut out, v, false);
    out
}

fn write(out: &mut Vec<u8>, v: &Value, timestamp: bool) {
    match v {
        Value::Null => out.push(0xf6),
        Value::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
        Value::Number(n) if timestamp => {
            out.push(0xc1);
            out.push(0xfb);
            out.extend(n.as_f64().unwrap_or_default().to_be_bytes());
        }
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => head(out, 0, u),
            (None, Some(i)) => head(out, 1, (-1 - i) as u64),
            _ => {
                out.push(0xfb);
                out.extend(n.as_f64().unwrap_or_default().to_be_bytes());
            }
        },
        Value::String(s) => {
            head(out, 3, s.len() as u64);
            out.extend(s.as_bytes());
        }
        Value::Array(items) => {
            head(out, 4, items.len() as u64);
            for i in items {
                write(out, i, timestamp);
            }
        }
        Value::Object(map) => {
            head(out, 5, map.len() as u64);
            for (k, v) in map {
                head(out, 3, k.len() as u64);
                out.extend(k.as_bytes());
                write(out, v, k == "Timestamps" || k.ends_with("Timestamp"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_what_cloudwatch_sends() {
        let v = serde_json::json!({"A": [1, -2, 2.5, "x", true, null], "B": {"C": 300}});
        assert_eq!(to_json(&from_json(&v)).unwrap(), v);
        // An indefinite map with a tagged timestamp, as aws-smithy-cbor encodes a request.
        let bytes = [0xbf, 0x61, b'T', 0xc1, 0xfb, 0x41, 0xd0, 0, 0, 0, 0, 0, 0, 0xff];
        assert_eq!(to_json(&bytes).unwrap(), serde_json::json!({"T": 1_073_741_824.0}));
    }
}
