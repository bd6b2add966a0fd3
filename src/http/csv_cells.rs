//! Cells of every CSV file Rapport writes, made safe for spreadsheets, and read back losslessly.
//!
//! A cell that begins with `=`, `+`, `-`, `@`, a TAB or a carriage return is a formula to
//! Excel, LibreOffice and Google Sheets ("CSV injection": `=HYPERLINK(...)` runs when the file
//! is opened). As OWASP recommends (<https://owasp.org/www-community/attacks/CSV_Injection>),
//! such a cell is written with a single quote before it, which spreadsheets show as text. So
//! that the quote can be told from data, a cell that itself begins with a single quote gets
//! one too. Reading a CSV back ([`unescape`]) takes away one leading quote from a cell that
//! begins with a quote followed by one of those characters or by another quote: an export
//! imports as it was.

use std::borrow::Cow;

/// What makes a spreadsheet read a cell as a formula, and the quote that escapes it.
const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];
const QUOTE: char = '\'';

/// The cell as written to a CSV file: a leading quote before a formula trigger or a quote.
pub fn escape(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some(c) if TRIGGERS.contains(&c) || c == QUOTE => Cow::Owned(format!("{QUOTE}{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// The cell as it was before [`escape`].
pub fn unescape(cell: &str) -> &str {
    let mut chars = cell.chars();
    match (chars.next(), chars.next()) {
        (Some(QUOTE), Some(c)) if TRIGGERS.contains(&c) || c == QUOTE => &cell[1..],
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_round_trip() {
        for (cell, written) in [
            ("=HYPERLINK(\"http://x.example\",\"y\")", "'=HYPERLINK(\"http://x.example\",\"y\")"),
            ("+SUM(1,2)", "'+SUM(1,2)"),
            ("-1+2", "'-1+2"),
            ("@cmd", "'@cmd"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("'quoted", "''quoted"),
            ("''", "'''"),
            ("Ada", "Ada"),
            ("", ""),
            (" =spaced", " =spaced"),
        ] {
            assert_eq!(escape(cell), written, "{cell:?}");
            assert_eq!(unescape(&escape(cell)), cell, "{cell:?}");
        }
        // A hand-written quote before ordinary text is data, kept as is.
        assert_eq!(unescape("'hello"), "'hello");
        assert_eq!(unescape("'"), "'");
    }
}
