package io.crosscoder.io.tokenizer;

import io.crosscoder.model.Tokenizer;
import java.io.IOException;
import java.net.Proxy;
import java.net.URL;
import java.net.URLConnection;
import java.net.URLStreamHandler;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Run in a fresh JVM by {@link OfflineTest}: watches every http, https and ftp connection the JVM
 * opens (and refuses it), opens a tokenizer, encodes a word, and prints what it saw.
 *
 * <p>Arguments: {@code ours FILE} opens FILE with {@link HuggingFaceTokenizers}; {@code djl FILE}
 * opens it with DJL directly, the way DJL is used without our settings (the control).
 */
public final class OfflineProbe {
  private OfflineProbe() {}

  public static void main(String[] args) throws Exception {
    List<String> attempts = new CopyOnWriteArrayList<>();
    URL.setURLStreamHandlerFactory(protocol -> switch (protocol) {
      case "http", "https", "ftp" -> new URLStreamHandler() {
        @Override
        protected URLConnection openConnection(URL u) throws IOException {
          attempts.add(u.toString());
          throw new IOException("OfflineProbe refuses " + u);
        }

        @Override
        protected URLConnection openConnection(URL u, Proxy p) throws IOException {
          return openConnection(u);
        }
      };
      default -> null;
    });
    Path file = Path.of(args[1]);
    int[] ids;
    if (args[0].equals("ours")) {
      try (Tokenizer t = HuggingFaceTokenizers.open(file)) {
        ids = t.encode("hello world");
      }
      System.out.println("CACHE " + HuggingFaceTokenizers.cacheFolder());
    } else {
      try (var t = ai.djl.huggingface.tokenizers.HuggingFaceTokenizer.newInstance(file, Map.of())) {
        ids = Arrays.stream(t.encode("hello world", false, false).getIds()).mapToInt(Math::toIntExact).toArray();
      }
    }
    System.out.println("IDS " + Arrays.toString(ids));
    System.out.println("ATTEMPTS " + attempts);
  }
}
