//! Server-sent events framing for streamed responses: bytes from the provider go in, whole
//! events come out, so every write to the client ends on an event boundary.
//!
//! One bounded buffer per stream carries a partial event across reads (the same problem as
//! ripgrep's line buffer). An event ends at a blank line: `\n\n` or `\r\n\r\n` (and mixtures).
//! Invariant: the buffer never holds more than one incomplete event of at most `max_event`
//! bytes plus the complete events not yet taken.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseError {
    /// A single event grew past the limit without ending.
    EventTooLarge,
}

pub struct EventFramer {
    buf: Vec<u8>,
    /// Everything before this index is whole events.
    complete: usize,
    /// Scan position: bytes before it have been looked at.
    scanned: usize,
    /// Start of the line being scanned.
    line_start: usize,
    max_event: usize,
}

impl EventFramer {
    pub fn new(max_event: usize) -> EventFramer {
        EventFramer {
            buf: Vec::new(),
            complete: 0,
            scanned: 0,
            line_start: 0,
            max_event,
        }
    }

    /// Append bytes and find the events they complete.
    pub fn push(&mut self, data: &[u8]) -> Result<(), SseError> {
        self.buf.extend_from_slice(data);
        while let Some(offset) = memchr::memchr(b'\n', &self.buf[self.scanned..]) {
            let nl = self.scanned + offset;
            let line = &self.buf[self.line_start..nl];
            if line.is_empty() || line == b"\r" {
                self.complete = nl + 1;
            }
            self.line_start = nl + 1;
            self.scanned = nl + 1;
        }
        self.scanned = self.buf.len();
        if self.buf.len() - self.complete > self.max_event {
            return Err(SseError::EventTooLarge);
        }
        Ok(())
    }

    /// The whole events received so far and not yet taken.
    pub fn complete(&self) -> &[u8] {
        &self.buf[..self.complete]
    }

    /// Forget the whole events (after they were written out), keeping the partial tail.
    pub fn take_complete(&mut self) {
        if self.complete == 0 {
            return;
        }
        self.buf.drain(..self.complete);
        self.scanned -= self.complete;
        self.line_start -= self.complete;
        self.complete = 0;
    }

    /// Bytes of an unfinished event.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.complete..]
    }

    /// The complete events, one by one, with their `event:` name and their data (several
    /// `data:` lines joined by `\n`, as the SSE spec says). Comments and other fields are skipped.
    pub fn events(&self) -> Events<'_> {
        Events {
            rest: self.complete(),
        }
    }
}

/// The events of a byte slice that holds whole events (as [`EventFramer::complete`] returns).
pub fn events_in(bytes: &[u8]) -> Events<'_> {
    Events { rest: bytes }
}

/// One server-sent event.
pub struct Event<'a> {
    pub name: Option<&'a [u8]>,
    pub data: std::borrow::Cow<'a, [u8]>,
}

pub struct Events<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Events<'a> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let mut name = None;
            let mut data: Option<std::borrow::Cow<'a, [u8]>> = None;
            loop {
                let (line, rest) = match memchr::memchr(b'\n', self.rest) {
                    Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
                    None => (self.rest, &self.rest[self.rest.len()..]),
                };
                self.rest = rest;
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.is_empty() {
                    break;
                }
                let (field, value) = match memchr::memchr(b':', line) {
                    Some(i) => (&line[..i], &line[i + 1..]),
                    None => (line, &line[line.len()..]),
                };
                let value = value.strip_prefix(b" ").unwrap_or(value);
                match field {
                    b"event" => name = Some(value),
                    b"data" => {
                        data = Some(match data {
                            None => std::borrow::Cow::Borrowed(value),
                            Some(prev) => {
                                let mut joined = prev.into_owned();
                                joined.push(b'\n');
                                joined.extend_from_slice(value);
                                std::borrow::Cow::Owned(joined)
                            }
                        });
                    }
                    _ => {}
                }
                if self.rest.is_empty() {
                    break;
                }
            }
            if let Some(data) = data {
                return Some(Event { name, data });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &[u8] =
        b"data: {\"a\":1}\n\nevent: x\r\ndata: {\"b\":2}\r\n\r\ndata: [DONE]\n\ndata: partial";

    #[test]
    fn whole_events_only_at_every_split() -> Result<(), SseError> {
        for cut in 0..=STREAM.len() {
            let mut f = EventFramer::new(1024);
            let mut out = Vec::new();
            for part in [&STREAM[..cut], &STREAM[cut..]] {
                f.push(part)?;
                let done = f.complete();
                assert!(
                    done.is_empty() || done.ends_with(b"\n\n") || done.ends_with(b"\n\r\n"),
                    "cut {cut}: {:?}",
                    String::from_utf8_lossy(done)
                );
                out.extend_from_slice(done);
                f.take_complete();
            }
            assert_eq!(out.len() + f.pending().len(), STREAM.len());
            assert_eq!(f.pending(), b"data: partial");
        }
        Ok(())
    }

    #[test]
    fn multi_line_data_and_comments() {
        let mut f = EventFramer::new(1024);
        assert!(f
            .push(b": keep-alive\n\nevent: e\ndata: a\ndata: b\nid: 7\n\n")
            .is_ok());
        let events: Vec<(Option<&[u8]>, Vec<u8>)> =
            f.events().map(|e| (e.name, e.data.into_owned())).collect();
        assert_eq!(events, vec![(Some(&b"e"[..]), b"a\nb".to_vec())]);
    }

    #[test]
    fn payloads_and_bounds() -> Result<(), SseError> {
        let mut f = EventFramer::new(16);
        f.push(&STREAM[..STREAM.len() - 13])?;
        let events: Vec<(Option<&[u8]>, Vec<u8>)> =
            f.events().map(|e| (e.name, e.data.into_owned())).collect();
        assert_eq!(
            events,
            vec![
                (None, b"{\"a\":1}".to_vec()),
                (Some(&b"x"[..]), b"{\"b\":2}".to_vec()),
                (None, b"[DONE]".to_vec())
            ]
        );
        f.take_complete();
        assert_eq!(f.push(&[b'x'; 17]), Err(SseError::EventTooLarge));
        Ok(())
    }
}
