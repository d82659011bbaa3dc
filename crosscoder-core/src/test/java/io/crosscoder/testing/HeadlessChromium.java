package io.crosscoder.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Debian's {@code chromium}, headless, for tests that open the HTML reports in a real browser:
 * the DOM after scripts ran ({@code --dump-dom}), a screenshot, and the requests the page made,
 * read from Chromium's own network log ({@code --log-net-log}). A page request is a job whose
 * network isolation key is the page's {@code file://} site; the browser's own traffic (updates,
 * accounts) has none and is not counted.
 *
 * <p>Where Chromium is absent the test is skipped with how to install it, except under CI ({@code
 * CI} set), where it fails: CI installs it ({@code .ci/run}).
 */
public final class HeadlessChromium {
  private static final List<String> FLAGS = List.of("--headless", "--no-sandbox", "--disable-gpu",
      "--disable-background-networking", "--no-first-run", "--disable-extensions", "--disable-sync",
      "--disable-component-update", "--hide-scrollbars", "--mute-audio");
  private static final long TIMEOUT_SECONDS = 180;

  private final Path binary;

  private HeadlessChromium(Path binary) {
    this.binary = binary;
  }

  /** Chromium on the PATH, if there is one. */
  public static Optional<Path> find() {
    String path = System.getenv().getOrDefault("PATH", "");
    for (String name : List.of("chromium", "chromium-browser", "google-chrome")) {
      for (String dir : path.split(java.io.File.pathSeparator)) {
        Path p = Path.of(dir, name);
        if (Files.isExecutable(p)) {
          return Optional.of(p);
        }
      }
    }
    return Optional.empty();
  }

  /** Chromium, or the test skipped (failed under CI) with how to install it. */
  public static HeadlessChromium require() {
    Optional<Path> p = find();
    if (p.isEmpty()) {
      String why = "chromium is not on the PATH; install it with 'apt-get install -y --no-install-recommends"
          + " chromium' (.ci/run does)";
      if (System.getenv("CI") != null) {
        Assertions.fail(why);
      }
      Assumptions.abort(why);
    }
    return new HeadlessChromium(p.get());
  }

  /**
   * What the browser made of a page.
   *
   * @param dom the serialised DOM after the page's scripts ran
   * @param pageRequests URLs the page asked for, the page itself excluded
   */
  public record Load(String dom, List<String> pageRequests) {}

  /** Opens {@code page}, lets its scripts run, and returns the DOM and the page's requests. */
  public Load load(Path page, Path work) throws IOException, InterruptedException {
    Path log = work.resolve("netlog-" + System.nanoTime() + ".json");
    Path dom = work.resolve("dom-" + System.nanoTime() + ".html");
    List<String> cmd = new ArrayList<>(List.of(binary.toString()));
    cmd.addAll(FLAGS);
    cmd.addAll(List.of("--user-data-dir=" + work.resolve("profile-" + System.nanoTime()), "--log-net-log=" + log,
        "--virtual-time-budget=5000", "--dump-dom", page.toUri().toString()));
    run(cmd, dom, work);
    return new Load(Files.readString(dom, StandardCharsets.UTF_8), pageRequests(log, page));
  }

  /** A PNG of the top {@code width x height} CSS pixels of {@code page}. */
  public Path screenshot(Path page, Path png, int width, int height) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(binary.toString()));
    cmd.addAll(FLAGS);
    cmd.addAll(List.of("--user-data-dir=" + png.getParent().resolve("profile-" + System.nanoTime()),
        "--window-size=" + width + "," + height, "--virtual-time-budget=5000", "--screenshot=" + png,
        page.toUri().toString()));
    run(cmd, png.resolveSibling(png.getFileName() + ".out"), png.getParent());
    return png;
  }

  private static void run(List<String> cmd, Path stdout, Path work) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).directory(work.toFile()).redirectOutput(stdout.toFile())
        .redirectError(work.resolve("chromium-stderr.txt").toFile()).start();
    if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      Assertions.fail("chromium did not finish in " + TIMEOUT_SECONDS + " s: " + cmd);
    }
    if (p.exitValue() != 0) {
      Assertions.fail("chromium exited with " + p.exitValue() + ": "
          + Files.readString(work.resolve("chromium-stderr.txt")));
    }
  }

  /** URLs of request jobs started for the page's site, other than the page itself. */
  static List<String> pageRequests(Path netLog, Path page) throws IOException {
    JsonNode root = new ObjectMapper().readTree(netLog.toFile());
    Map.Entry<String, JsonNode> start = null;
    int startJob = -1;
    var types = root.get("constants").get("logEventTypes").properties().iterator();
    while (types.hasNext()) {
      var e = types.next();
      if (e.getKey().equals("URL_REQUEST_START_JOB")) {
        startJob = e.getValue().asInt();
        start = e;
      }
    }
    Assertions.assertNotNull(start, "the net log has no URL_REQUEST_START_JOB type");
    String self = page.toUri().toString();
    List<String> out = new ArrayList<>();
    for (JsonNode e : root.get("events")) {
      JsonNode params = e.get("params");
      if (e.get("type").asInt() != startJob || params == null || params.get("url") == null) {
        continue;
      }
      String url = params.get("url").asText();
      String key = params.has("network_isolation_key") ? params.get("network_isolation_key").asText() : "";
      boolean fromPage = key.contains("file://");
      boolean isPage = url.equals(self) || url.equals(self.replace("file:///", "file:/"));
      if (fromPage && !isPage) {
        out.add(url);
      }
    }
    return out;
  }
}
