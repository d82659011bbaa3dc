package io.crosscoder.bench;

import io.crosscoder.crosscoder.Crosscoder;
import io.crosscoder.crosscoder.CrosscoderConfig;
import io.crosscoder.crosscoder.analysis.ClassThresholds;
import io.crosscoder.crosscoder.analysis.CrosscoderEvaluation;
import io.crosscoder.crosscoder.analysis.CrosscoderReport;
import io.crosscoder.crosscoder.analysis.LatentCard;
import io.crosscoder.crosscoder.analysis.LatentClass;
import io.crosscoder.crosscoder.analysis.LatentScale;
import io.crosscoder.crosscoder.train.TrainingMetrics;
import io.crosscoder.report.ReportFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * How long the HTML page of a large crosscoder takes to make and to open: a made-up crosscoder of
 * {@code --latents} latents (default 100,000; d = 16) with an evaluation, latent scaling of its
 * target-only latents, readable latents and 5,000 training steps, rendered to HTML (wall time of
 * the render, after one warm-up render), then opened {@code --rounds} times in headless Chromium
 * (when it is on the PATH): each open reports the page's own load event time ({@code
 * performance.timing}, from a copy of the page with a timing script added and the policy removed
 * so that script may run). Prints each time and the median.
 *
 * <p>Usage: {@code HtmlPageOpen [--latents N] [--rounds R] [--out DIR]}.
 */
public final class HtmlPageOpen {
  private HtmlPageOpen() {}

  public static void main(String[] args) throws Exception {
    int latents = 100_000;
    int rounds = 5;
    Path out = Path.of(System.getProperty("java.io.tmpdir"), "crosscoder-html-bench");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--latents" -> latents = Integer.parseInt(args[++i]);
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        case "--out" -> out = Path.of(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    Files.createDirectories(out);
    CrosscoderReport report = report(latents);
    report.render(ReportFormat.HTML);
    long t0 = System.nanoTime();
    String html = report.render(ReportFormat.HTML);
    double renderMs = (System.nanoTime() - t0) / 1e6;
    Path page = out.resolve("crosscoder-" + latents + ".html");
    Files.writeString(page, html);
    System.out.printf(Locale.ROOT, "page of %,d latents: %,d bytes, rendered in %.0f ms%n", latents, html.length(),
        renderMs);
    Path timed = out.resolve("crosscoder-" + latents + "-timed.html");
    Files.writeString(timed, html.replaceFirst("<meta http-equiv=\"Content-Security-Policy\"[^>]*>", "")
        .replace("</body>", "<script>addEventListener('load', function () { var t = performance.timing;"
            + " document.documentElement.setAttribute('data-load', t.loadEventStart - t.navigationStart); });"
            + "</script></body>"));
    String chromium = null;
    for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
      if (Files.isExecutable(Path.of(dir, "chromium"))) {
        chromium = Path.of(dir, "chromium").toString();
        break;
      }
    }
    if (chromium == null) {
      System.out.println("chromium is not on the PATH: no open times (apt-get install chromium)");
      return;
    }
    double[] ms = new double[rounds];
    for (int r = 0; r < rounds; r++) {
      Path profile = Files.createTempDirectory(out, "profile");
      Process p = new ProcessBuilder(chromium, "--headless", "--no-sandbox", "--disable-gpu",
          "--disable-background-networking", "--no-first-run", "--user-data-dir=" + profile, "--dump-dom",
          timed.toUri().toString()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
      String dom = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      if (!p.waitFor(300, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("chromium did not finish in 300 s");
      }
      var m = java.util.regex.Pattern.compile("data-load=\"(\\d+)\"").matcher(dom);
      if (!m.find()) {
        throw new IllegalStateException("the page reported no load time");
      }
      ms[r] = Double.parseDouble(m.group(1));
      System.out.printf(Locale.ROOT, "open %d: load event at %.0f ms%n", r + 1, ms[r]);
    }
    Arrays.sort(ms);
    System.out.printf(Locale.ROOT, "median load event: %.0f ms over %d opens (%d cores, load average %.1f)%n",
        ms[rounds / 2], rounds, Runtime.getRuntime().availableProcessors(),
        java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
  }

  /** A crosscoder of {@code f} latents whose r spreads over [0, 1], with an evaluation, cards and training. */
  static CrosscoderReport report(int f) {
    int d = 16;
    Random rnd = new Random(1);
    float[] wDec = new float[2 * d * f];
    for (int i = 0; i < f; i++) {
      double u = rnd.nextDouble();
      double r = u < 0.1 ? 0.1 * rnd.nextDouble() : u < 0.2 ? 1 - 0.1 * rnd.nextDouble()
          : Math.min(1, Math.max(0, 0.5 + 0.1 * rnd.nextGaussian()));
      for (int j = 0; j < d; j++) {
        wDec[i * 2 * d + j] = (float) ((1 - r) * rnd.nextGaussian() / Math.sqrt(d));
        wDec[i * 2 * d + d + j] = (float) (r * rnd.nextGaussian() / Math.sqrt(d));
      }
    }
    Crosscoder c = Crosscoder.of(CrosscoderConfig.l1(d, f, 0), new float[2 * d * f], wDec, new float[f],
        new float[2 * d]);
    CrosscoderReport plain = CrosscoderReport.of("bench.safetensors", c, ClassThresholds.defaults(), null);
    long[] firing = new long[f];
    for (int i = 0; i < f; i++) {
      firing[i] = rnd.nextInt(1000);
    }
    List<LatentScale> scales = new ArrayList<>();
    for (int i : plain.latentsOf(LatentClass.TARGET_ONLY)) {
      scales.add(new LatentScale(i, firing[i], rnd.nextGaussian(), 1 + rnd.nextDouble(), 0.3 * rnd.nextGaussian(),
          1 + rnd.nextDouble()));
    }
    CrosscoderReport r = CrosscoderReport.of("bench.safetensors", c, ClassThresholds.defaults(),
        new CrosscoderEvaluation(100_000, 0.9, 0.88, 32, firing, scales));
    List<LatentCard> cards = new ArrayList<>();
    for (LatentClass k : LatentClass.values()) {
      int[] of = r.latentsOf(k);
      for (int j = 0; j < Math.min(5, of.length); j++) {
        List<LatentCard.Context> ctx = new ArrayList<>();
        for (int x = 0; x < 10; x++) {
          ctx.add(new LatentCard.Context(5f - x * 0.3f, x, "some words of the text before the", " token", " after it"));
        }
        cards.add(new LatentCard(of[j], k, r.relativeNorm(of[j]), r.decoderCosine(of[j]), firing[of[j]], 100_000, 50,
            List.of(new LatentCard.TokenShare(" token", 7)), ctx));
      }
    }
    List<TrainingMetrics> steps = new ArrayList<>();
    for (int s = 1; s <= 5000; s += 5) {
      double decay = Math.exp(-s / 1250.0);
      steps.add(new TrainingMetrics(s, 5000, 1024L * s, decay + 0.1, 0.2 * decay, 0, 1.2 * decay + 0.1,
          100 * decay + 32, 1 - decay, 1 - decay, 0.1 * decay, 1e-3, 0, 1, Double.NaN));
    }
    return r.withCards(cards).withTraining(steps);
  }
}
