//! Writing JSON straight into a byte buffer: objects and arrays field by field, and simd-json
//! values copied through as they are. Translation builds provider bodies with these instead of
//! building a value tree and serialising it.

use simd_json::prelude::Writable;
use simd_json::BorrowedValue;

use crate::http::respond::json_string;

/// Copy a parsed value out as JSON.
pub fn value(out: &mut Vec<u8>, v: &BorrowedValue<'_>) {
    // Writing into a Vec cannot fail.
    let _ = v.write(out);
}

/// An object being written; `end` closes it.
pub struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> Obj<'a> {
        out.push(b'{');
        Obj { out, first: true }
    }

    /// Start a field; the caller writes its value into the returned buffer.
    pub fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        json_string(self.out, k);
        self.out.push(b':');
        self.out
    }

    pub fn str(&mut self, k: &str, v: &str) {
        json_string(self.key(k), v);
    }

    pub fn raw(&mut self, k: &str, v: &[u8]) {
        self.key(k).extend_from_slice(v);
    }

    pub fn num(&mut self, k: &str, v: u64) {
        crate::http::respond::push_u64(self.key(k), v);
    }

    pub fn value(&mut self, k: &str, v: &BorrowedValue<'_>) {
        value(self.key(k), v);
    }

    /// Append object members already written as JSON (`"a":1,"b":2`).
    pub fn members(&mut self, members: &[u8]) {
        if members.is_empty() {
            return;
        }
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.extend_from_slice(members);
    }

    pub fn end(self) {
        self.out.push(b'}');
    }
}

/// An array being written; `end` closes it.
pub struct Arr<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Arr<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> Arr<'a> {
        out.push(b'[');
        Arr { out, first: true }
    }

    /// Start an element; the caller writes it into the returned buffer.
    pub fn item(&mut self) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out
    }

    pub fn is_empty(&self) -> bool {
        self.first
    }

    pub fn end(self) {
        self.out.push(b']');
    }
}
