//! HTTP/1.1 wire handling shared by the client side (requests in) and the upstream side
//! (responses in): head parsing with hard limits, body framing, chunked decoding, and response
//! writing. Everything works on offsets into caller-owned buffers; nothing here does I/O.

pub mod body;
pub mod parse;
pub mod respond;

/// A byte range inside a connection buffer: the zero-copy handle for a parsed field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// The span of `part` inside `whole`. `part` must be a sub-slice of `whole` (as httparse
    /// returns); the pointer arithmetic is on addresses only, never dereferenced.
    pub fn of(whole: &[u8], part: &[u8]) -> Span {
        let start = (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
        Span {
            start: start as u32,
            end: (start + part.len()) as u32,
        }
    }

    pub fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}
