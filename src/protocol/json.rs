//! JSON as text: a validator and a few span helpers, so that what a peer sent reaches the application
//! byte for byte and what the application wrote goes out as written.
//!
//! Why not a tree: a JSON text that JavaScript produces may hold lone surrogate escapes (`"\ud83d"`, what
//! `String.prototype.slice` leaves of a cut emoji) and any nesting depth; both are valid JSON (RFC 8259
//! §8.2 leaves lone surrogates to the implementation, JS accepts them) and socket.io-client delivers them.
//! serde_json refuses lone surrogates and stops at depth 128, and a parse-then-serialise round trip
//! changes numbers and escapes. Here nothing recurses (a byte stack holds the nesting) and nothing is
//! rebuilt.

use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt;

/// Why a text is not JSON: what was found, and the byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub offset: usize,
    pub what: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.offset)
    }
}

impl std::error::Error for JsonError {}

/// A `{"_placeholder":true,"num":…}` object found in a text (Socket.IO's binary attachment reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placeholder {
    /// `num` when it is a non-negative integer literal.
    pub num: Option<u64>,
    /// The object has exactly the two members `_placeholder` and `num`.
    pub exact: bool,
}

/// What validation learnt about a text on the way.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Scan {
    pub placeholders: Vec<Placeholder>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Container {
    Array,
    Object,
}

/// Per open object: what its members say about being a placeholder.
#[derive(Default, Clone, Copy)]
struct ObjectState {
    members: u32,
    placeholder_true: bool,
    num: Option<Option<u64>>,
}

/// From `pos`, skips whole 8-byte words holding no `"`, no `\` and no control character (< 0x20);
/// returns the position of the first such byte of the first word holding one (or the start of the
/// short tail). SWAR: in each test a byte borrows from the byte above it only when it matched, so the
/// lowest flagged byte is exact; bytes ≥ 0x80 (UTF-8 sequences) never match.
#[inline]
fn skip_plain_words(bytes: &[u8], mut pos: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let quote = w ^ (LO * u64::from(b'"'));
        let backslash = w ^ (LO * u64::from(b'\\'));
        let special = ((quote.wrapping_sub(LO) & !quote)
            | (backslash.wrapping_sub(LO) & !backslash)
            | (w.wrapping_sub(LO * 0x20) & !w))
            & HI;
        if special != 0 {
            return pos + (special.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    pos
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, what: &'static str) -> JsonError {
        JsonError { offset: self.pos, what }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// A string starting at `pos` (the opening quote). Escapes are checked; `\uXXXX` may be a lone
    /// surrogate. Returns the span of the whole string, quotes included.
    fn string(&mut self) -> Result<(usize, usize), JsonError> {
        let start = self.pos;
        self.pos += 1;
        loop {
            // Fast path over plain bytes (the text is a &str: UTF-8 is already valid): eight at a
            // time, then one at a time up to the byte that ends the run.
            self.pos = skip_plain_words(self.bytes, self.pos);
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok((start, self.pos));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 1,
                        Some(b'u') => {
                            let hex = self.bytes.get(self.pos + 1..self.pos + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(self.error("invalid \\u escape"));
                            }
                            self.pos += 5;
                        }
                        _ => return Err(self.error("invalid escape")),
                    }
                }
                Some(_) => return Err(self.error("control character in string")),
            }
        }
    }

    /// A number per RFC 8259 (any magnitude: the text is kept, never converted).
    fn number(&mut self) -> Result<(usize, usize), JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.error("invalid number"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.error("invalid number"));
            }
            self.digits();
        }
        Ok((start, self.pos))
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), JsonError> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error("invalid literal"))
        }
    }
}

/// Checks that `text` is one JSON value (surrounding white space allowed), at any depth, lone
/// surrogate escapes allowed. Collects the placeholder objects on the way.
pub fn validate(text: &str) -> Result<Scan, JsonError> {
    let mut p = Parser { bytes: text.as_bytes(), pos: 0 };
    let mut scan = Scan::default();
    // Inline up to the usual depths: no allocation per message (arbitrary depth still spills to the heap).
    let mut stack: SmallVec<[Container; 32]> = SmallVec::new();
    let mut objects: SmallVec<[ObjectState; 8]> = SmallVec::new();
    // The key of the member whose value is being read, when it matters for placeholders.
    let mut pending_key: Option<&'static str> = None;
    loop {
        // A value.
        p.skip_ws();
        let key = pending_key.take();
        match p.peek() {
            None => return Err(p.error("unexpected end of text")),
            Some(b'{') => {
                p.pos += 1;
                p.skip_ws();
                if p.peek() == Some(b'}') {
                    p.pos += 1;
                } else {
                    stack.push(Container::Object);
                    objects.push(ObjectState::default());
                    pending_key = member_key(&mut p, text, objects.last_mut())?;
                    continue;
                }
            }
            Some(b'[') => {
                p.pos += 1;
                p.skip_ws();
                if p.peek() == Some(b']') {
                    p.pos += 1;
                } else {
                    stack.push(Container::Array);
                    continue;
                }
            }
            Some(b'"') => {
                p.string()?;
            }
            Some(b't') => {
                p.literal(b"true")?;
                if key == Some("_placeholder") {
                    if let Some(state) = objects.last_mut() {
                        state.placeholder_true = true;
                    }
                }
            }
            Some(b'f') => p.literal(b"false")?,
            Some(b'n') => p.literal(b"null")?,
            Some(b'-' | b'0'..=b'9') => {
                let (start, end) = p.number()?;
                if key == Some("num") {
                    if let Some(state) = objects.last_mut() {
                        state.num = Some(text[start..end].parse::<u64>().ok());
                    }
                }
            }
            Some(_) => return Err(p.error("expected a value")),
        }
        // After a value: close containers or go on to the next element/member.
        loop {
            p.skip_ws();
            let Some(&top) = stack.last() else {
                if p.pos != p.bytes.len() {
                    return Err(p.error("trailing characters"));
                }
                return Ok(scan);
            };
            match (top, p.peek()) {
                (_, Some(b',')) => {
                    p.pos += 1;
                    if top == Container::Object {
                        p.skip_ws();
                        pending_key = member_key(&mut p, text, objects.last_mut())?;
                    }
                    break;
                }
                (Container::Array, Some(b']')) => {
                    p.pos += 1;
                    stack.pop();
                }
                (Container::Object, Some(b'}')) => {
                    p.pos += 1;
                    stack.pop();
                    let state = objects.pop().unwrap_or_default();
                    if state.placeholder_true {
                        scan.placeholders.push(Placeholder {
                            num: state.num.flatten(),
                            exact: state.members == 2 && state.num.is_some(),
                        });
                    }
                }
                (_, None) => return Err(p.error("unexpected end of text")),
                _ => return Err(p.error("expected ',' or a closing bracket")),
            }
        }
    }
}

/// Reads `"key" :` of an object member; returns the key when it is one placeholders care about.
fn member_key(
    p: &mut Parser<'_>,
    text: &str,
    state: Option<&mut ObjectState>,
) -> Result<Option<&'static str>, JsonError> {
    if p.peek() != Some(b'"') {
        return Err(p.error("expected a member name"));
    }
    let (start, end) = p.string()?;
    p.skip_ws();
    if p.peek() != Some(b':') {
        return Err(p.error("expected ':'"));
    }
    p.pos += 1;
    if let Some(state) = state {
        state.members = state.members.saturating_add(1);
    }
    Ok(match &text[start..end] {
        "\"_placeholder\"" => Some("_placeholder"),
        "\"num\"" => Some("num"),
        _ => None,
    })
}

/// The spans of the elements of a JSON array text (validated already), white space trimmed.
/// `None` when `text` is not an array.
pub fn array_elements(text: &str) -> Option<Vec<&str>> {
    let bytes = text.as_bytes();
    let open = text.find(|c: char| !c.is_ascii_whitespace())?;
    if bytes[open] != b'[' {
        return None;
    }
    let mut elements = Vec::new();
    let mut depth = 0usize;
    let mut start = open + 1;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    let last = text[start..i].trim();
                    if !last.is_empty() {
                        elements.push(last);
                    }
                    return Some(elements);
                }
            }
            b',' if depth == 1 => {
                elements.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Splits an array text (validated already) into its first element and what follows it (starting at
/// the `,` or the closing `]`). `None` for an empty array or a text that is not an array.
pub fn split_first_element(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    let open = text.find(|c: char| !c.is_ascii_whitespace())?;
    if bytes[open] != b'[' {
        return None;
    }
    let start = open + 1 + text[open + 1..].find(|c: char| !c.is_ascii_whitespace())?;
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' if depth > 0 => depth -= 1,
            b',' | b']' if depth == 0 => {
                let first = text[start..i].trim_end();
                return (!first.is_empty()).then_some((first, &text[i..]));
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The span of member `key`'s value in an object text (validated already), the first such member;
/// `None` when `text` is not an object or has no such member. Keys compare after decoding.
pub fn object_member<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let bytes = text.as_bytes();
    let open = text.find(|c: char| !c.is_ascii_whitespace())?;
    if bytes[open] != b'{' {
        return None;
    }
    let mut i = open + 1;
    loop {
        // A member name.
        while i < bytes.len() && bytes[i] != b'"' {
            if bytes[i] == b'}' {
                return None;
            }
            i += 1;
        }
        let name_start = i;
        i += 1;
        while i < bytes.len() && bytes[i] != b'"' {
            i += if bytes[i] == b'\\' { 2 } else { 1 };
        }
        let name = text.get(name_start..=i)?;
        i += 1;
        while i < bytes.len() && bytes[i] != b':' {
            i += 1;
        }
        i += 1;
        // Its value, up to the ',' or '}' at this level.
        let value_start = i;
        let mut depth = 0usize;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                }
                b'[' | b'{' => depth += 1,
                b']' | b'}' if depth > 0 => depth -= 1,
                b',' | b'}' if depth == 0 => break,
                _ => {}
            }
            i += 1;
        }
        if decode_string(name).as_deref() == Some(key) {
            return Some(text.get(value_start..i)?.trim());
        }
        if i >= bytes.len() || bytes[i] == b'}' {
            return None;
        }
        i += 1;
    }
}

/// The text of an array's elements without the brackets, or `None` when `text` is not an array:
/// `[1, {"a":2}]` → `1, {"a":2}`.
pub fn array_inner(text: &str) -> Option<&str> {
    let trimmed = text.trim();
    trimmed.strip_prefix('[')?.strip_suffix(']')
}

/// Decodes a JSON string literal (quotes included). A lone surrogate escape becomes U+FFFD (Rust
/// strings are UTF-8); every other escape decodes exactly. `None` when `span` is not a valid string.
pub fn decode_string(span: &str) -> Option<String> {
    decode_string_cow(span).map(Cow::into_owned)
}

/// [`decode_string`], borrowing the literal's inside when it has no escapes (no allocation).
pub fn decode_string_cow(span: &str) -> Option<Cow<'_, str>> {
    let inner = span.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let unit = hex4(&mut chars)?;
                match unit {
                    0xD800..=0xDBFF => {
                        // A high surrogate: a low one must follow to make a character.
                        let rest = chars.as_str();
                        if let Some(low) =
                            rest.strip_prefix("\\u").and_then(|r| u16::from_str_radix(r.get(..4)?, 16).ok())
                        {
                            if (0xDC00..=0xDFFF).contains(&low) {
                                chars.nth(5);
                                let c = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                                out.push(char::from_u32(c)?);
                                continue;
                            }
                        }
                        out.push('\u{FFFD}');
                    }
                    0xDC00..=0xDFFF => out.push('\u{FFFD}'),
                    _ => out.push(char::from_u32(u32::from(unit))?),
                }
            }
            _ => return None,
        }
    }
    Some(Cow::Owned(out))
}

fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u16> {
    let mut value = 0u16;
    for _ in 0..4 {
        value = value * 16 + chars.next()?.to_digit(16)? as u16;
    }
    Some(value)
}

/// Appends `text` to `out` as a JSON string literal.
pub fn push_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// The 8-byte fast path of string scanning: a special byte at every offset of a word, and
    /// UTF-8 sequences across word boundaries, judged as serde_json judges them.
    #[test]
    fn string_scan_finds_every_special_byte() {
        let specials = ["\"", "\\n", "\\u00e9", "\u{1}", "\u{1f}", "é", "😀", "\u{7f}", " "];
        for len in 0..40 {
            for at in 0..=len {
                for special in specials {
                    let body: String =
                        (0..len).map(|i| if i == at { special.to_owned() } else { "x".to_owned() }).collect();
                    let text = format!("[\"{body}\",1]");
                    assert_eq!(
                        validate(&text).is_ok(),
                        serde_json::from_str::<serde_json::Value>(&text).is_ok(),
                        "{text:?}"
                    );
                }
            }
        }
        assert_eq!(skip_plain_words(b"abcdefgh\"", 0), 8);
        assert_eq!(skip_plain_words(b"abc\"efghijk", 0), 3);
        assert_eq!(skip_plain_words(b"abcdefg\\", 0), 7);
        assert_eq!(skip_plain_words(b"\x1fbcdefgh", 0), 0);
        assert_eq!(skip_plain_words("é\"abcdef".as_bytes(), 0), 2);
    }

    #[test]
    fn accepts_what_javascript_sends() {
        for text in [
            r#""a\ud83db""#,
            r#"["\udc00", "\ud83d\ude00", {"k":"\ud800"}]"#,
            "[1e400, -0, 12345678901234567890, 0.1e-7, -1.5E+3]",
            "{\"b\":1,\"a\":2,\"b\":3}",
            "\"\u{2028}\u{2029}\"",
            " [ ] ",
            "{}",
            "null",
        ] {
            validate(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        validate(&deep).unwrap();
        let deep_objects = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
        validate(&deep_objects).unwrap();
    }

    #[test]
    fn refuses_what_is_not_json() {
        for text in [
            "",
            "[",
            "]",
            "[1,]",
            "[,1]",
            "{\"a\"}",
            "{\"a\":}",
            "{1:2}",
            "01",
            "1.",
            "-",
            "1e",
            "[1 2]",
            "\"\\x\"",
            "\"\\u12\"",
            "\"a",
            "tru",
            "nul",
            "[1]]",
            "{\"a\":1,}",
            "\"\u{1}\"",
            "[1] x",
            "NaN",
        ] {
            assert!(validate(text).is_err(), "{text:?} should be refused");
        }
        let unbalanced = "[".repeat(10_000);
        assert!(validate(&unbalanced).is_err());
    }

    #[test]
    fn finds_placeholders() {
        let scan = validate(r#"["a",{"_placeholder":true,"num":0},{"x":[{"num":1,"_placeholder":true}]}]"#).unwrap();
        assert_eq!(
            scan.placeholders,
            vec![Placeholder { num: Some(0), exact: true }, Placeholder { num: Some(1), exact: true }]
        );
        let scan =
            validate(r#"[{"_placeholder":true,"num":"0"},{"_placeholder":true,"num":1,"x":2},{"_placeholder":false}]"#)
                .unwrap();
        assert_eq!(
            scan.placeholders,
            vec![Placeholder { num: None, exact: false }, Placeholder { num: Some(1), exact: false }]
        );
    }

    #[test]
    fn splits_arrays_and_decodes_strings() {
        assert_eq!(
            array_elements(r#"["ev", 1, {"a":[2,","]}, "x\"]" ]"#).unwrap(),
            vec!["\"ev\"", "1", "{\"a\":[2,\",\"]}", "\"x\\\"]\""]
        );
        assert_eq!(array_elements("[]").unwrap(), Vec::<&str>::new());
        assert_eq!(array_elements("{}"), None);
        assert_eq!(array_inner(" [1, 2] "), Some("1, 2"));
        assert_eq!(split_first_element(r#"["e\"]",1,[2]]"#), Some((r#""e\"]""#, ",1,[2]]")));
        assert_eq!(split_first_element(r#"[ {"a":[1]} ]"#), Some((r#"{"a":[1]}"#, "]")));
        assert_eq!(split_first_element("[]"), None);
        let obj = r#"{"channel":"r\"}","message":{"id":"m","data":[1,{"x":"}"}]},"k\u0065y":null}"#;
        assert_eq!(object_member(obj, "channel"), Some(r#""r\"}""#));
        assert_eq!(object_member(obj, "message"), Some(r#"{"id":"m","data":[1,{"x":"}"}]}"#));
        assert_eq!(object_member(obj, "key"), Some("null"));
        assert_eq!(object_member(obj, "nope"), None);
        assert_eq!(object_member("{}", "a"), None);
        assert_eq!(object_member("[1]", "a"), None);
        assert_eq!(decode_string(r#""a\ud83db""#).unwrap(), "a\u{FFFD}b");
        assert_eq!(decode_string(r#""\ud83d\ude00\n\u00e9""#).unwrap(), "😀\né");
        assert_eq!(decode_string(r#""\udc00""#).unwrap(), "\u{FFFD}");
        let mut out = String::new();
        push_string(&mut out, "a\"b\\\n\u{1}é");
        assert_eq!(out, r#""a\"b\\\n\u0001é""#);
        assert_eq!(decode_string(&out).unwrap(), "a\"b\\\n\u{1}é");
    }

    /// Agrees with serde_json (which refuses lone surrogates, depth > 128 and numbers beyond f64, all
    /// accepted here on purpose), and never panics.
    #[test]
    fn agrees_with_serde_json_on_random_texts() {
        const PIECES: &[&str] = &[
            "[",
            "]",
            "{",
            "}",
            ",",
            ":",
            "\"a\"",
            "\"\\u00e9\"",
            "\"\\\"\"",
            "1",
            "-0.5e3",
            "true",
            "null",
            " ",
            "0",
            "01",
            "\"",
            "\\",
            "x",
            "\"_placeholder\"",
            "\"num\"",
        ];
        let mut rng = StdRng::seed_from_u64(0x15_0a7e);
        let mut agreed = 0;
        for _ in 0..200_000 {
            let text: String = (0..rng.gen_range(1..14)).map(|_| PIECES[rng.gen_range(0..PIECES.len())]).collect();
            let ours = validate(&text).is_ok();
            let theirs = match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(_) => true,
                // Valid JSON that does not fit an f64: kept as text here, on purpose.
                Err(e) if e.to_string().contains("out of range") => continue,
                Err(_) => false,
            };
            assert_eq!(ours, theirs, "{text:?}");
            agreed += usize::from(ours);
            if ours {
                if let Some(elements) = array_elements(&text) {
                    for element in elements {
                        validate(element).unwrap_or_else(|e| panic!("element {element:?} of {text:?}: {e}"));
                    }
                }
            }
        }
        assert!(agreed > 1_000, "the generator should make valid texts too ({agreed})");
    }
}
