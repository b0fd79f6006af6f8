//! Where each field of a YAML document sits, so that a check made after parsing can still
//! name a line and column.
//!
//! We walk the parser's events once and record, for every mapping key and sequence item,
//! its field path (`arms[2].schedule.intermittent.off`) and its 1-based position.

use serde_saphyr::granit_parser::{Event, Parser};
use std::collections::HashMap;

/// Field path → (line, column), both 1-based.
#[derive(Debug, Default, Clone)]
pub struct Locations {
    positions: HashMap<String, (usize, usize)>,
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, index: usize },
}

/// Joins a mapping key onto a path.
pub fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Joins a sequence index onto a path.
pub fn join_index(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

impl Locations {
    /// Indexes `text`. A document that does not parse yields whatever was indexed before the
    /// syntax error; the YAML reader reports the error itself.
    pub fn index(text: &str) -> Self {
        let mut positions = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        // Cap the work so hostile input cannot make this pass slow; the reader's own budget
        // rejects such documents anyway.
        const MAX_EVENTS: usize = 2_000_000;
        for (count, item) in Parser::new_from_str(text).enumerate() {
            if count > MAX_EVENTS {
                break;
            }
            let Ok((event, span)) = item else { break };
            let pos = (span.start.line(), span.start.col() + 1);
            match event {
                Event::Scalar(value, ..) => {
                    if let Some(Frame::Map { path, key }) = stack.last_mut()
                        && key.is_none()
                    {
                        let full = join_key(path, &value);
                        positions.entry(full).or_insert(pos);
                        *key = Some(value.into_owned());
                        continue;
                    }
                    Self::value_done(&mut stack, &mut positions, pos);
                }
                Event::Alias(_) => Self::value_done(&mut stack, &mut positions, pos),
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let path = Self::child_path(&mut stack, &mut positions, pos);
                    if matches!(event, Event::MappingStart(..)) {
                        stack.push(Frame::Map { path, key: None });
                    } else {
                        stack.push(Frame::Seq { path, index: 0 });
                    }
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                    Self::advance(&mut stack);
                }
                _ => {}
            }
        }
        Locations { positions }
    }

    /// Path of the node about to start, recording sequence items as they begin.
    fn child_path(
        stack: &mut [Frame],
        positions: &mut HashMap<String, (usize, usize)>,
        pos: (usize, usize),
    ) -> String {
        match stack.last_mut() {
            None => {
                positions.entry(String::new()).or_insert(pos);
                String::new()
            }
            Some(Frame::Map { path, key }) => match key {
                Some(k) => join_key(path, k),
                // A complex (non-scalar) key: give it a placeholder and treat its value next.
                None => {
                    *key = Some("?".to_owned());
                    join_key(path, "?")
                }
            },
            Some(Frame::Seq { path, index }) => {
                let p = join_index(path, *index);
                positions.entry(p.clone()).or_insert(pos);
                p
            }
        }
    }

    fn value_done(
        stack: &mut [Frame],
        positions: &mut HashMap<String, (usize, usize)>,
        pos: (usize, usize),
    ) {
        if let Some(Frame::Seq { path, index }) = stack.last_mut() {
            positions.entry(join_index(path, *index)).or_insert(pos);
        }
        Self::advance(stack);
    }

    /// A value in the innermost container is complete.
    fn advance(stack: &mut [Frame]) {
        match stack.last_mut() {
            Some(Frame::Map { key, .. }) => *key = None,
            Some(Frame::Seq { index, .. }) => *index += 1,
            None => {}
        }
    }

    /// True if `path` itself was written in the document (not just an ancestor).
    pub fn contains(&self, path: &str) -> bool {
        self.positions.contains_key(path)
    }

    /// Position of `path`, or of its nearest recorded ancestor (a field left out points at
    /// the object that should hold it).
    pub fn find(&self, path: &str) -> Option<(usize, usize)> {
        let mut p = path;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return Some(*pos);
            }
            if p.is_empty() {
                return None;
            }
            p = &p[..p.rfind(['.', '[']).unwrap_or(0)];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_and_items() {
        let text = "a: 1\nb:\n  c: [1, 2]\n  d:\n    - x: 1\n    - y: 2\n";
        let loc = Locations::index(text);
        assert_eq!(loc.find("a"), Some((1, 1)));
        assert_eq!(loc.find("b.c"), Some((3, 3)));
        assert_eq!(loc.find("b.c[1]"), Some((3, 10)));
        assert_eq!(loc.find("b.d[1].y"), Some((6, 7)));
        assert_eq!(loc.find("b.d[1].missing"), Some((6, 7)));
        assert_eq!(
            loc.find("nowhere"),
            Some((1, 1)),
            "unknown paths fall back to the document"
        );
    }
}
