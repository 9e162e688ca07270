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
    /// After the size: optional extensions until LF.
    Extension,
    Data,
    /// Expecting CR (or LF) after chunk data.
    DataEnd,
    /// Expecting LF after that CR.
    DataEndLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    TrailerLine,
    /// Saw CR on an empty trailer line: expecting the final LF.
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

    fn step(&mut self, b: u8) -> Result<(), ChunkError> {
        self.state = match self.state {
            State::Size { digits } => match b {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    if digits >= 15 {
                        return Err(ChunkError::Malformed("chunk size too long"));
                    }
                    self.size = self.size * 16 + u64::from(hex_value(b));
                    State::Size { digits: digits + 1 }
                }
                _ if digits == 0 => return Err(ChunkError::Malformed("missing chunk size")),
                b';' | b' ' | b'\t' | b'\r' => {
                    self.line = 0;
                    State::Extension
                }
                b'\n' => self.start_chunk()?,
                _ => return Err(ChunkError::Malformed("invalid chunk size")),
            },
            State::Extension => match b {
                b'\n' => self.start_chunk()?,
                _ => {
                    self.line += 1;
                    if self.line > MAX_LINE {
                        return Err(ChunkError::Malformed("chunk extension too long"));
                    }
                    State::Extension
                }
            },
            State::DataEnd => match b {
                b'\r' => State::DataEndLf,
                b'\n' => State::Size { digits: 0 },
                _ => return Err(ChunkError::Malformed("missing CRLF after chunk data")),
            },
            State::DataEndLf => match b {
                b'\n' => State::Size { digits: 0 },
                _ => return Err(ChunkError::Malformed("missing LF after chunk data")),
            },
            State::TrailerStart => match b {
                b'\r' => State::FinalLf,
                b'\n' => State::Done,
                _ => self.trailer_byte()?,
            },
            State::TrailerLine => match b {
                b'\n' => State::TrailerStart,
                _ => self.trailer_byte()?,
            },
            State::FinalLf => match b {
                b'\n' => State::Done,
                _ => return Err(ChunkError::Malformed("missing final LF")),
            },
            State::Data | State::Done => self.state,
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

    fn trailer_byte(&mut self) -> Result<State, ChunkError> {
        self.trailers += 1;
        if self.trailers > MAX_TRAILERS {
            return Err(ChunkError::Malformed("trailers too large"));
        }
        Ok(State::TrailerLine)
    }
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
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
        let bad: &[&[u8]] = &[
            b"\r\n",
            b"zz\r\n",
            b"4\r\nWikiX\r\n",
            b"1234567890abcdef0\r\n",
            b"-1\r\n",
        ];
        for b in bad {
            let r = ChunkedDecoder::new(1 << 20).decode(b, &mut Vec::new());
            assert!(
                matches!(r, Err(ChunkError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(b)
            );
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
