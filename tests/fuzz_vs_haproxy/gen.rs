//! The seeded request generator: connections of valid requests, smuggling-style templates and
//! head mutations, each request tagged (`/fz-CONN-MSG` in the target, `x-fz: CONN-MSG` as a
//! header) so the recording backend can say which one it received.
//!
//! A connection is the bytes one client sends at once; for templates and mutations it is the
//! odd request followed by a plain GET, so a framing disagreement shows as a broken or
//! smuggled second request.

use super::templates::{Draft, TEMPLATES};

/// SplitMix64: small, seedable, the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `n` letters and digits.
    pub fn word(&mut self, n: usize) -> Vec<u8> {
        const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..n).map(|_| *self.pick(ALNUM)).collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Valid,
    Template(&'static str),
    Mutated,
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Valid => "valid",
            Kind::Template(name) => name,
            Kind::Mutated => "mutated",
        }
    }
}

/// One request inside a connection's bytes.
#[derive(Clone, Debug)]
pub struct Msg {
    /// Where its head ends in the connection's bytes (its body, if any, starts here).
    pub head_end: usize,
    /// Where it ends, by the framing the generator meant.
    pub end: usize,
    /// The body the generator meant.
    pub body: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub kind: Kind,
    pub bytes: Vec<u8>,
    pub msgs: Vec<Msg>,
}

impl Case {
    /// The first request's bytes: what a template or a mutation made.
    pub fn first(&self) -> &[u8] {
        self.msg_bytes(0)
    }

    /// Request `m`'s bytes, as the generator framed them.
    pub fn msg_bytes(&self, m: usize) -> &[u8] {
        let start = if m == 0 { 0 } else { self.msgs[m - 1].end };
        &self.bytes[start..self.msgs[m].end]
    }
}

pub fn tag(conn: usize, msg: usize) -> String {
    format!("fz-{conn}-{msg}")
}

/// Most connections carry valid requests; every template comes first once, then at random.
const VALID_PERCENT: usize = 40;
const TEMPLATE_PERCENT: usize = 35;
const MAX_BATCH: usize = 4;

pub fn generate(seed: u64, conns: usize) -> Vec<Case> {
    let mut rng = Rng::new(seed);
    (0..conns)
        .map(|conn| {
            if conn < TEMPLATES.len() {
                return template_case(&mut rng, conn, conn);
            }
            let roll = rng.below(100);
            if roll < VALID_PERCENT {
                valid_case(&mut rng, conn)
            } else if roll < VALID_PERCENT + TEMPLATE_PERCENT {
                let t = rng.below(TEMPLATES.len());
                template_case(&mut rng, conn, t)
            } else {
                mutated_case(&mut rng, conn)
            }
        })
        .collect()
}

/// Appends a draft's bytes to a case.
fn push(case: &mut Case, draft: &Draft) {
    let (head, wire_body) = draft.bytes();
    let head_end = case.bytes.len() + head.len();
    case.bytes.extend_from_slice(&head);
    case.bytes.extend_from_slice(&wire_body);
    case.msgs.push(Msg {
        head_end,
        end: case.bytes.len(),
        body: draft.body.clone(),
    });
}

fn valid_case(rng: &mut Rng, conn: usize) -> Case {
    let mut case = Case {
        kind: Kind::Valid,
        bytes: Vec::new(),
        msgs: Vec::new(),
    };
    let n = 1 + rng.below(MAX_BATCH);
    for i in 0..n {
        let draft = Draft::valid(rng, &tag(conn, i), i + 1 == n);
        push(&mut case, &draft);
    }
    case
}

fn template_case(rng: &mut Rng, conn: usize, template: usize) -> Case {
    let (name, make) = TEMPLATES[template];
    let mut draft = Draft::plain_post(rng, &tag(conn, 0));
    make(rng, &mut draft, conn);
    let mut case = Case {
        kind: Kind::Template(name),
        bytes: Vec::new(),
        msgs: Vec::new(),
    };
    push(&mut case, &draft);
    push(&mut case, &Draft::plain_get(&tag(conn, 1)));
    case
}

/// A valid request with one to three byte-level changes to its head (never to its tags),
/// then a plain GET.
fn mutated_case(rng: &mut Rng, conn: usize) -> Case {
    let draft = Draft::valid(rng, &tag(conn, 0), false);
    let (mut head, wire_body) = draft.bytes();
    for _ in 0..1 + rng.below(3) {
        mutate(rng, &mut head, &tag(conn, 0));
    }
    let mut case = Case {
        kind: Kind::Mutated,
        bytes: head.clone(),
        msgs: Vec::new(),
    };
    case.bytes.extend_from_slice(&wire_body);
    case.msgs.push(Msg {
        head_end: head.len(),
        end: case.bytes.len(),
        body: draft.body.clone(),
    });
    push(&mut case, &Draft::plain_get(&tag(conn, 1)));
    case
}

/// Bytes a mutation may add: the ones parsers disagree on.
const INTERESTING: &[u8] = b"\r\n \t:,;\"\\/?#%@\x00\x01\x0b\x0c\x7f\x80\xff";
/// Header lines a mutation may insert.
const LINES: &[&[u8]] = &[
    b"Transfer-Encoding: chunked",
    b"Content-Length: 0",
    b"Content-Length: 3",
    b"Connection: close",
    b"Connection: keep-alive, x-fz",
    b"Host: other.test",
    b"Expect: 100-continue",
    b"Transfer-Encoding: identity",
];

/// The tag in the request line and the x-fz line, one byte either side (a byte glued to a
/// tag would rename it): mutations keep them, so every request the backend receives can still
/// be named.
fn protected_ranges(head: &[u8], tag: &str) -> Vec<(usize, usize)> {
    let header = format!("x-fz: {}", &tag[3..]);
    [tag.as_bytes(), header.as_bytes()]
        .iter()
        .filter_map(|needle| {
            let at = find(head, needle)?;
            Some((at.saturating_sub(1), at + needle.len() + 1))
        })
        .collect()
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One edit at a random place outside the tags and the final empty line.
fn mutate(rng: &mut Rng, head: &mut Vec<u8>, tag: &str) {
    let protected = protected_ranges(head, tag);
    let editable = head.len().saturating_sub(4);
    let free: Vec<usize> = (0..editable)
        .filter(|&i| !protected.iter().any(|&(a, b)| i >= a && i < b))
        .collect();
    if free.is_empty() {
        return;
    }
    let at = *rng.pick(&free);
    match rng.below(5) {
        0 => head[at] = *rng.pick(INTERESTING),
        1 => head.insert(at, *rng.pick(INTERESTING)),
        2 => {
            head.remove(at);
        }
        3 => {
            // A whole header line after the line holding `at`.
            let eol = head[at..]
                .iter()
                .position(|&b| b == b'\n')
                .map(|p| at + p + 1);
            if let Some(eol) = eol.filter(|&e| e + 2 <= head.len()) {
                let mut line = rng.pick(LINES).to_vec();
                line.extend_from_slice(b"\r\n");
                head.splice(eol..eol, line);
            }
        }
        _ => head[at] ^= 0x20,
    }
}
