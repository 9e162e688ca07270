//! Provider event streams: events framed from reads of any size are the events framed from the
//! whole stream at once (names and data alike).
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_dataplane::sse::{EventFramer, events_in};

type Ev = (Option<Vec<u8>>, Vec<u8>);

fn collect(framer: &mut EventFramer, into: &mut Vec<Ev>) {
    for e in framer.events() {
        into.push((e.name.map(<[u8]>::to_vec), e.data.into_owned()));
    }
    framer.take_complete();
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, stream)) = data.split_first() else { return };
    let step = usize::from(step).max(1);
    let max = 1 << 20;
    let mut whole = EventFramer::new(max);
    let mut expected = Vec::new();
    if whole.push(stream).is_err() {
        return;
    }
    collect(&mut whole, &mut expected);

    let mut pieces = EventFramer::new(max);
    let mut got = Vec::new();
    for piece in stream.chunks(step) {
        assert!(pieces.push(piece).is_ok());
        collect(&mut pieces, &mut got);
    }
    assert_eq!(expected, got, "read size {step}");
    assert_eq!(whole.pending(), pieces.pending());
    // The free-standing iterator reads the same events.
    let direct: Vec<Ev> = events_in(&stream[..stream.len() - whole.pending().len()])
        .map(|e| (e.name.map(<[u8]>::to_vec), e.data.into_owned()))
        .collect();
    assert_eq!(expected, direct);
});
