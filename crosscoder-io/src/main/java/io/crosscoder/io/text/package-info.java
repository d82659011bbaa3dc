/**
 * Corpora as {@link io.crosscoder.text.TextSource}s: text files, folders of text files, JSON
 * Lines, and the bundled English corpus; opened by {@link io.crosscoder.io.text.TextSources}.
 */
package io.crosscoder.io.text;
