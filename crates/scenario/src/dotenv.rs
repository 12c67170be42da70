//! A small `.env` parser: `KEY=VALUE` lines, `#` comments, an optional `export ` prefix,
//! and single- or double-quoted values (double quotes understand `\n`, `\"` and `\\`).
//! Nothing is expanded: `$HOME` stays `$HOME`.

/// One `KEY=VALUE` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// 1-based line number.
    pub(crate) line: usize,
    pub(crate) var: String,
    pub(crate) value: String,
}

/// A line that is not `KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadLine {
    pub(crate) line: usize,
    pub(crate) text: String,
    pub(crate) problem: String,
}

/// Parses every line, keeping the good ones and reporting each bad one.
pub(crate) fn parse(text: &str) -> (Vec<Entry>, Vec<BadLine>) {
    let mut entries = Vec::new();
    let mut bad = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match parse_line(trimmed) {
            Ok((var, value)) => entries.push(Entry { line, var, value }),
            Err(problem) => bad.push(BadLine {
                line,
                text: trimmed.to_owned(),
                problem,
            }),
        }
    }
    (entries, bad)
}

fn parse_line(line: &str) -> Result<(String, String), String> {
    let line = line
        .strip_prefix("export ")
        .map(str::trim_start)
        .unwrap_or(line);
    let (var, value) = line
        .split_once('=')
        .ok_or_else(|| "the line is not KEY=VALUE".to_owned())?;
    let var = var.trim();
    let valid_name = var
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return Err(format!(
            "`{var}` is not a variable name (letters, digits and `_`, not starting with a digit)"
        ));
    }
    Ok((var.to_owned(), parse_value(value.trim())?))
}

fn parse_value(value: &str) -> Result<String, String> {
    let mut chars = value.chars();
    match chars.next() {
        Some('"') => {
            let mut out = String::new();
            loop {
                match chars.next() {
                    None => return Err("the double quote is never closed".to_owned()),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => out.push('\n'),
                        Some('t') => out.push('\t'),
                        Some(c @ ('"' | '\\' | '$')) => out.push(c),
                        Some(c) => {
                            out.push('\\');
                            out.push(c);
                        }
                        None => return Err("the double quote is never closed".to_owned()),
                    },
                    Some(c) => out.push(c),
                }
            }
            trailing(chars.as_str())?;
            Ok(out)
        }
        Some('\'') => {
            let rest = chars.as_str();
            let end = rest
                .find('\'')
                .ok_or_else(|| "the single quote is never closed".to_owned())?;
            trailing(&rest[end + 1..])?;
            Ok(rest[..end].to_owned())
        }
        _ => {
            // An unquoted value ends at a comment that follows whitespace: `5 # rps`.
            let end = value
                .char_indices()
                .find(|&(i, c)| c == '#' && value[..i].ends_with(char::is_whitespace))
                .map_or(value.len(), |(i, _)| i);
            Ok(value[..end].trim_end().to_owned())
        }
    }
}

/// After a closing quote only whitespace and a comment may follow.
fn trailing(rest: &str) -> Result<(), String> {
    let rest = rest.trim_start();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(())
    } else {
        Err(format!(
            "unexpected `{rest}` after the closing quote (quote the whole value)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(usize, String, String)> {
        let (entries, bad) = parse(text);
        assert!(bad.is_empty(), "{bad:?}");
        entries
            .into_iter()
            .map(|e| (e.line, e.var, e.value))
            .collect()
    }

    #[test]
    fn reads_plain_quoted_exported_and_commented_lines() {
        let text = "# comment\n\nA=1\nexport B = two words \nC=\"x # y\" # note\nD='$HOME\\n'\nE=\"a\\\"b\\n\"\nF=5 # rps\nG=a#b\nH=\n";
        let v = values(text);
        let expected = [
            (3, "A", "1"),
            (4, "B", "two words"),
            (5, "C", "x # y"),
            (6, "D", "$HOME\\n"),
            (7, "E", "a\"b\n"),
            (8, "F", "5"),
            (9, "G", "a#b"),
            (10, "H", ""),
        ];
        assert_eq!(v.len(), expected.len());
        for ((line, var, value), (el, ev, eval)) in v.iter().zip(expected) {
            assert_eq!((*line, var.as_str(), value.as_str()), (el, ev, eval));
        }
    }

    #[test]
    fn reports_every_bad_line_with_its_number() {
        let (entries, bad) = parse("OK=1\nno equals sign\n1X=2\nQ=\"open\nR='a' b\n");
        assert_eq!(entries.len(), 1);
        let lines: Vec<usize> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, [2, 3, 4, 5]);
        assert!(bad[0].problem.contains("KEY=VALUE"));
        assert!(bad[2].problem.contains("never closed"));
    }
}
