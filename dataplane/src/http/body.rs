//! Chunked transfer-coding decoder (RFC 9112 §7.1), incremental across reads.
//!
//! Used for chunked request bodies from clients and chunked responses from providers. It copies
//! chunk data into a caller's sink and reports how many input bytes it consumed, so whatever
//! follows the final chunk (a pipelined request) stays in the connection buffer untouched.
//!
//! Bounds: a chunk-size line (with extensions) of at most [`MAX_LINE`] bytes, a size of at most
//! 15 hex digits, trailers of at most [`MAX_TRAILERS`] bytes, and a caller-given body limit.

/// Longest chunk-size line, extensions included.
pub const MAX_LINE: usize = 4096;
/// Largest trailer section.
pub const MAX_TRAILERS: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// Not valid chunked syntax.
    Malformed(&'static str),
    /// The decoded body would exceed the limit.
    TooLarge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits of a chunk size.
    Size {
        digits: u8,
    },
    /// Whitespace after the size, before `;` or CR.
    SizeWs,
    /// In a chunk extension's name (`started`: at least one tchar read).
    ExtName {
        started: bool,
    },
    /// Whitespace after an extension name.
    ExtAfterName,
    /// After `=`, before the value.
    ExtValueStart,
    ExtToken,
    ExtQuoted,
    ExtQuotedEscape,
    /// Whitespace after an extension value.
    ExtAfterValue,
    /// Saw CR ending the chunk-size line: expecting LF.
    SizeLf,
    Data,
    /// Expecting CR after chunk data.
    DataEnd,
    /// Expecting LF after that CR.
    DataEndLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    TrailerLine,
    /// Saw CR ending a trailer line: expecting LF.
    TrailerLf,
    /// Saw CR on the empty last line: expecting the final LF.
    FinalLf,
    Done,
}

#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// Bytes left in the current chunk, or the size being accumulated.
    size: u64,
    line: usize,
    trailers: usize,
    decoded: u64,
    limit: u64,
}

impl ChunkedDecoder {
    pub fn new(limit: u64) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size { digits: 0 },
            size: 0,
            line: 0,
            trailers: 0,
            decoded: 0,
            limit,
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decode from `input`, appending data to `sink`. Returns the number of input bytes consumed:
    /// all of them, unless the final chunk ended earlier.
    pub fn decode(&mut self, input: &[u8], sink: &mut Vec<u8>) -> Result<usize, ChunkError> {
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            if self.state == State::Data {
                let take = (input.len() - i).min(self.size as usize);
                sink.extend_from_slice(&input[i..i + take]);
                i += take;
                self.size -= take as u64;
                if self.size == 0 {
                    self.state = State::DataEnd;
                }
                continue;
            }
            self.step(input[i])?;
            i += 1;
        }
        Ok(i)
    }

    /// One byte of the chunk-size line, the CRLF after data, or the trailers. The grammar is
    /// RFC 9112's to the letter: CRLF only, extensions as `;name[=token|"quoted"]` with optional
    /// whitespace, no control characters — any leniency here is a way to make Warden and the
    /// next parser disagree on where a body ends.
    fn step(&mut self, b: u8) -> Result<(), ChunkError> {
        use State::*;
        let ws = b == b' ' || b == b'\t';
        if matches!(
            self.state,
            SizeWs
                | ExtName { .. }
                | ExtAfterName
                | ExtValueStart
                | ExtToken
                | ExtQuoted
                | ExtQuotedEscape
                | ExtAfterValue
        ) {
            self.line += 1;
            if self.line > MAX_LINE {
                return Err(ChunkError::Malformed("chunk extension too long"));
            }
        }
        // Where `;` and CR lead from a state that may end an extension (or the size).
        let ext_end = |b: u8| match b {
            b';' => Ok(ExtName { started: false }),
            b'\r' => Ok(SizeLf),
            _ => Err(ChunkError::Malformed("invalid chunk extension")),
        };
        self.state = match self.state {
            Size { digits } => match b {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    if digits >= 15 {
                        return Err(ChunkError::Malformed("chunk size too long"));
                    }
                    self.size = self.size * 16 + u64::from(hex_value(b));
                    Size { digits: digits + 1 }
                }
                _ if digits == 0 => return Err(ChunkError::Malformed("missing chunk size")),
                _ if ws => {
                    self.line = 0;
                    SizeWs
                }
                b';' | b'\r' => {
                    self.line = 0;
                    ext_end(b)?
                }
                _ => return Err(ChunkError::Malformed("invalid chunk size")),
            },
            SizeWs | ExtAfterName | ExtAfterValue if ws => self.state,
            SizeWs | ExtAfterValue => ext_end(b)?,
            ExtName { started: false } if ws => self.state,
            ExtName { .. } if is_tchar(b) => ExtName { started: true },
            ExtName { started: true } | ExtAfterName => match b {
                b'=' => ExtValueStart,
                _ if ws => ExtAfterName,
                _ => ext_end(b)?,
            },
            ExtName { started: false } => {
                return Err(ChunkError::Malformed("a chunk extension without a name"))
            }
            ExtValueStart => match b {
                _ if ws => ExtValueStart,
                b'"' => ExtQuoted,
                _ if is_tchar(b) => ExtToken,
                _ => return Err(ChunkError::Malformed("invalid chunk extension value")),
            },
            ExtToken => match b {
                _ if is_tchar(b) => ExtToken,
                _ if ws => ExtAfterValue,
                _ => ext_end(b)?,
            },
            ExtQuoted => match b {
                b'"' => ExtAfterValue,
                b'\\' => ExtQuotedEscape,
                b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff => ExtQuoted,
                _ => {
                    return Err(ChunkError::Malformed(
                        "a control character in a chunk extension",
                    ))
                }
            },
            ExtQuotedEscape => match b {
                b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff => ExtQuoted,
                _ => {
                    return Err(ChunkError::Malformed(
                        "a control character in a chunk extension",
                    ))
                }
            },
            SizeLf => match b {
                b'\n' => self.start_chunk()?,
                _ => return Err(ChunkError::Malformed("a bare CR in a chunk-size line")),
            },
            DataEnd => match b {
                b'\r' => DataEndLf,
                _ => return Err(ChunkError::Malformed("missing CRLF after chunk data")),
            },
            DataEndLf => match b {
                b'\n' => Size { digits: 0 },
                _ => return Err(ChunkError::Malformed("missing LF after chunk data")),
            },
            TrailerStart => match b {
                b'\r' => FinalLf,
                // obs-fold: a trailer line may not continue the previous one.
                _ if ws => return Err(ChunkError::Malformed("a folded trailer line")),
                _ => self.trailer_byte(b)?,
            },
            TrailerLine => match b {
                b'\r' => TrailerLf,
                _ => self.trailer_byte(b)?,
            },
            TrailerLf => match b {
                b'\n' => TrailerStart,
                _ => return Err(ChunkError::Malformed("a bare CR in the trailers")),
            },
            FinalLf => match b {
                b'\n' => Done,
                _ => return Err(ChunkError::Malformed("missing final LF")),
            },
            Data | Done => self.state,
        };
        Ok(())
    }

    fn start_chunk(&mut self) -> Result<State, ChunkError> {
        if self.size == 0 {
            return Ok(State::TrailerStart);
        }
        self.decoded = self.decoded.saturating_add(self.size);
        if self.decoded > self.limit {
            return Err(ChunkError::TooLarge);
        }
        Ok(State::Data)
    }

    fn trailer_byte(&mut self, b: u8) -> Result<State, ChunkError> {
        if (b < 0x20 && b != b'\t') || b == 0x7f {
            return Err(ChunkError::Malformed("a control character in the trailers"));
        }
        self.trailers += 1;
        if self.trailers > MAX_TRAILERS {
            return Err(ChunkError::Malformed("trailers too large"));
        }
        Ok(State::TrailerLine)
    }
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

impl From<ChunkError> for crate::error::Error {
    fn from(e: ChunkError) -> crate::error::Error {
        match e {
            ChunkError::Malformed(why) => {
                crate::error::Error::new(crate::error::Kind::Framing, why)
            }
            ChunkError::TooLarge => crate::error::Error::new(
                crate::error::Kind::BodyTooLarge,
                "request body exceeds the size limit",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] =
        b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\nNEXT";

    #[test]
    fn decodes_split_at_every_byte() -> Result<(), ChunkError> {
        for cut in 0..=BODY.len() {
            let mut d = ChunkedDecoder::new(1 << 20);
            let mut out = Vec::new();
            let a = d.decode(&BODY[..cut], &mut out)?;
            let b = d.decode(&BODY[a..], &mut out)?;
            assert!(d.is_done(), "cut at {cut}");
            assert_eq!(out, b"Wikipedia in\r\n\r\nchunks.");
            assert_eq!(&BODY[a + b..], b"NEXT", "leftover after cut {cut}");
        }
        Ok(())
    }

    #[test]
    fn rejects_bad_syntax_and_enforces_limits() {
        // The request-smuggling corpus: every one is refused.
        let bad: &[&[u8]] = &[
            b"\r\n",
            b"zz\r\n",
            b"4\r\nWikiX\r\n",
            b"1234567890abcdef0\r\n",
            b"-1\r\n",
            b"+1\r\n",
            b"0x1\r\n",
            b" 1\r\n",
            b"1_0\r\n",
            b"1\nx\r\n",
            b"1\rx\r\n",
            b"1\r\nx\n",
            b"1\r\nx\rz",
            b"1;\r\n",
            b"1;=v\r\n",
            b"1;a=\r\n",
            b"1;a=b c\r\n",
            b"1;a\x00\r\n",
            b"1;a=\"\x01\"\r\n",
            b"1;a=\"b\\\x7f\"\r\n",
            b"1;a\nb\r\n",
            b"1;a=b\r\r\n",
            b"0\r\nx: y\n\r\n",
            b"0\r\nx: y\r\n z\r\n\r\n",
            b"0\r\nx: \x01\r\n\r\n",
            b"0\r\n\n",
            b"ffffffffffffffff\r\n",
        ];
        for b in bad {
            let r = ChunkedDecoder::new(1 << 20).decode(b, &mut Vec::new());
            assert!(
                matches!(r, Err(ChunkError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(b)
            );
        }
        let good: &[&[u8]] = &[
            b"1;a\r\nx\r\n0\r\n\r\n",
            b"1 ; a = b ; c=\"d \\\" e\"\t\r\nx\r\n0\r\n\r\n",
            b"1;a=b;c\r\nx\r\n0;z\r\nt: v\r\nu: w\r\n\r\n",
        ];
        for g in good {
            let mut d = ChunkedDecoder::new(1 << 20);
            let mut out = Vec::new();
            let n = d.decode(g, &mut out);
            assert_eq!(n, Ok(g.len()), "{:?}", String::from_utf8_lossy(g));
            assert!(d.is_done());
            assert_eq!(out, b"x");
        }
        let r = ChunkedDecoder::new(8).decode(b"9\r\n123456789\r\n0\r\n\r\n", &mut Vec::new());
        assert_eq!(r, Err(ChunkError::TooLarge));
        let mut long_ext = b"1;".to_vec();
        long_ext.resize(MAX_LINE + 10, b'a');
        assert!(ChunkedDecoder::new(10)
            .decode(&long_ext, &mut Vec::new())
            .is_err());
    }
}
