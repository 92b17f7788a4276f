//! What counts as saying nothing.

/// Whether `text` shows nothing: empty, or only whitespace and characters
/// that are never drawn (Unicode's `Default_Ignorable_Code_Point`, such as
/// U+200B ZERO WIDTH SPACE, and the Hangul fillers).
///
/// ```
/// assert!(sesame_kernel::is_blank(" \u{200B}\u{FEFF}\t"));
/// assert!(!sesame_kernel::is_blank("\u{200B}a"));
/// ```
pub fn is_blank(text: &str) -> bool {
    text.chars().all(|c| c.is_whitespace() || never_drawn(c))
}

/// `Default_Ignorable_Code_Point` of Unicode 15's DerivedCoreProperties.txt.
fn never_drawn(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::is_blank;

    #[test]
    fn invisible_characters_alone_are_blank_and_anything_drawn_is_not() {
        for blank in [
            "",
            " \n",
            "\u{200B}",
            "\u{200D}\u{2060}",
            "\u{3164}",
            "\u{E0041}",
            "\u{00AD}",
        ] {
            assert!(is_blank(blank), "{blank:?}");
        }
        for shown in ["a", "\u{200B}x\u{200B}", "👍", "\u{0301}", "·"] {
            assert!(!is_blank(shown), "{shown:?}");
        }
    }
}
