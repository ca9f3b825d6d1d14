use super::dispatch::answer_request;
use super::framer::{Framer, Scan};
use crate::ground::config::Limits;

fn frames(chunks: &[&[u8]]) -> Vec<String> {
    let mut framer = Framer::default();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Scan::Json { start, end } = framer.scan(&buf, usize::MAX) {
            out.push(String::from_utf8(buf[start..end].to_vec()).unwrap());
            buf.drain(..end);
        }
    }
    out
}

#[test]
fn finds_objects_without_delimiters_across_any_split() {
    let text = br#"{"command":"add","a":[1,3],"b":[0,-5]}{"x":"}\"{"}  [1,[2]]"#;
    let whole = frames(&[text]);
    assert_eq!(
        whole,
        vec![
            r#"{"command":"add","a":[1,3],"b":[0,-5]}"#,
            r#"{"x":"}\"{"}"#,
            "[1,[2]]"
        ]
    );
    for cut in 1..text.len() {
        assert_eq!(
            frames(&[&text[..cut], &text[cut..]]),
            whole,
            "split at {cut}"
        );
    }
}

#[test]
fn answers_the_article_request() {
    let reply = answer_request(
        br#"{"command":"add","a":[1.0,3.0],"b":[0.0,-5.0]}"#,
        &Limits::default(),
    );
    assert_eq!(reply, b"{\"result\":[1.0,-2.0]}\n");
    let reply = answer_request(
        br#"{"command":"div","a":[1,0],"b":[0,0]}"#,
        &Limits::default(),
    );
    assert_eq!(
        String::from_utf8(reply).unwrap(),
        "{\"error\":{\"kind\":\"zero_division\",\"message\":\"complex division by zero\"}}\n"
    );
}

#[test]
fn garbage_and_unknown_commands_are_errors() {
    assert_eq!(Framer::default().scan(b"  hello", 100), Scan::Garbage);
    assert_eq!(
        Framer::default().scan(b"OXB", 100),
        Scan::PartialBinary {
            total: 32,
            version: 1
        }
    );
    let reply = String::from_utf8(answer_request(
        br#"{"command":"no-such-op","a":[1,0],"b":[1,0]}"#,
        &Limits::default(),
    ))
    .unwrap();
    assert!(reply.contains("\"kind\":\"not_found\""), "{reply}");
    let reply = String::from_utf8(answer_request(
        br#"{"command":"add","a":[1,0]}"#,
        &Limits::default(),
    ))
    .unwrap();
    assert!(reply.contains("needs field \\\"b\\\""), "{reply}");
}
