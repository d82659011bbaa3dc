package io.crosscoder.io.lora;

import io.crosscoder.InvalidInputException;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.io.safetensors.SafetensorsFormat;
import io.crosscoder.tensor.RenamedTensorView;
import io.crosscoder.tensor.TensorView;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SequencedMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PEFT LoRA adapter folder ({@code adapter_config.json} and {@code adapter_model.safetensors}),
 * opened to be {@linkplain #applyTo applied} to its base without materialising the merged model:
 *
 * <pre>{@code
 * try (Checkpoint base = CheckpointFormats.open(Path.of("Qwen2.5-1.5B"));
 *      LoraAdapter adapter = LoraAdapter.open(Path.of("my-lora"));
 *      Checkpoint merged = adapter.applyTo(base)) {
 *   try (ModelDiffer differ = ModelDiffer.builder().build()) {
 *     DiffReport r = differ.compare(base, merged);
 *   }
 * }
 * }</pre>
 *
 * <p>Tensor names follow PEFT's saved form: {@code base_model.model.<module>.lora_A.weight}
 * ({@code [r, in]}) and {@code .lora_B.weight} ({@code [out, r]}) for a linear module, {@code
 * <module>.lora_embedding_A} ({@code [r, num_embeddings]}) and {@code lora_embedding_B} ({@code
 * [dim, r]}) for an embedding, an optional adapter-name segment before {@code .weight}; any other
 * tensor (a {@code modules_to_save} head, a trained bias) replaces the base tensor of its name.
 * Each update is {@code Delta W = scale B A} with {@link LoraConfig#scaleOf the module's scale}, added
 * to {@code <module>.weight} ({@code (B A)^T} for embeddings and {@code fan_in_fan_out} bases).
 *
 * <p>Every factor is checked against the config and the base before anything is read: both halves
 * present, ranks equal to each other and to the config's rank for the module, in and out sizes those
 * of the base weight; a mismatch is an {@link InvalidInputException} naming the adapter file and the
 * tensor. Closing the adapter unmaps its file; merged checkpoints are unusable afterwards.
 */
public final class LoraAdapter implements AutoCloseable {
  /** The weights file PEFT writes with safe serialization. */
  public static final String WEIGHTS = "adapter_model.safetensors";

  private static final String PREFIX = "base_model.model.";
  private static final Pattern LINEAR = Pattern.compile("^(.+)\\.lora_(A|B)(?:\\.[^.]+)?\\.weight$");
  private static final Pattern EMBEDDING = Pattern.compile("^(.+)\\.lora_embedding_(A|B)(?:\\.[^.]+)?$");

  private final Path folder;
  private final LoraConfig config;
  private final Checkpoint weights;
  private final List<LoraModule> modules;
  private final SequencedMap<String, TensorView> replacements;

  private LoraAdapter(Path folder, LoraConfig config, Checkpoint weights, List<LoraModule> modules,
      SequencedMap<String, TensorView> replacements) {
    this.folder = folder;
    this.config = config;
    this.weights = weights;
    this.modules = List.copyOf(modules);
    this.replacements = Collections.unmodifiableSequencedMap(replacements);
  }

  /**
   * Tells an adapter from a checkpoint without reading it.
   *
   * @param path a file or folder, which may not exist
   * @return whether {@code path} is a PEFT adapter folder (holds {@value LoraConfig#FILE_NAME}) or
   *     that file
   */
  public static boolean isAdapter(Path path) {
    try {
      return Files.isDirectory(path) ? Files.isRegularFile(path.resolve(LoraConfig.FILE_NAME))
          : Files.isRegularFile(path) && path.getFileName() != null
              && path.getFileName().toString().equals(LoraConfig.FILE_NAME);
    } catch (RuntimeException e) {
      return false;
    }
  }

  /**
   * Reads the config and maps the weights of the adapter in {@code path} (its folder, or its
   * {@code adapter_config.json}).
   *
   * @param path the adapter folder, or its {@code adapter_config.json}
   * @return the open adapter, which the caller closes (it unmaps the factors)
   * @throws InvalidInputException if a file is missing or malformed, or the factors do not agree
   *     with each other or with the config
   */
  public static LoraAdapter open(Path path) {
    Path folder = Files.isDirectory(path) ? path : path.toAbsolutePath().getParent();
    Path configFile = folder.resolve(LoraConfig.FILE_NAME);
    if (!Files.isRegularFile(configFile)) {
      throw new InvalidInputException(folder, null, "not a PEFT adapter: no " + LoraConfig.FILE_NAME);
    }
    LoraConfig config = LoraConfig.read(configFile);
    Path file = folder.resolve(WEIGHTS);
    if (!Files.isRegularFile(file)) {
      boolean pickle = Files.isRegularFile(folder.resolve("adapter_model.bin"));
      throw new InvalidInputException(folder, null, "no " + WEIGHTS + (pickle ? "; adapter_model.bin is a PyTorch"
          + " pickle, which this library does not read (save the adapter with safe_serialization=True, PEFT's"
          + " default)" : ""));
    }
    Checkpoint weights = new SafetensorsFormat().open(file);
    try {
      Map<String, TensorView[]> factors = new LinkedHashMap<>();
      Map<String, Boolean> embedding = new LinkedHashMap<>();
      SequencedMap<String, TensorView> replacements = new LinkedHashMap<>();
      for (TensorView t : weights.tensors().values()) {
        String name = t.name().startsWith(PREFIX) ? t.name().substring(PREFIX.length()) : t.name();
        Matcher linear = LINEAR.matcher(name);
        Matcher emb = EMBEDDING.matcher(name);
        Matcher m = linear.matches() ? linear : emb.matches() ? emb : null;
        if (!t.dtype().isFloating() || t.isQuantized()) {
          throw new InvalidInputException(file, t.name(), "is " + t.storageType() + "; adapter weights are float");
        }
        if (m == null) {
          replacements.put(name, t);
          continue;
        }
        if (t.shape().length != 2) {
          throw new InvalidInputException(file, t.name(), "has shape " + TensorView.formatShape(t.shape())
              + "; LoRA factors are matrices");
        }
        String module = m.group(1);
        Boolean was = embedding.put(module, m == emb);
        if (was != null && was != (m == emb)) {
          throw new InvalidInputException(file, t.name(), "mixes lora_A/B and lora_embedding_A/B for module " + module);
        }
        TensorView[] ab = factors.computeIfAbsent(module, k -> new TensorView[2]);
        int i = m.group(2).equals("A") ? 0 : 1;
        if (ab[i] != null) {
          throw new InvalidInputException(file, t.name(), "module " + module + " has two lora_" + m.group(2)
              + " factors (" + ab[i].name() + ")");
        }
        ab[i] = t;
      }
      List<LoraModule> modules = new ArrayList<>();
      for (var e : factors.entrySet()) {
        String module = e.getKey();
        TensorView a = e.getValue()[0];
        TensorView b = e.getValue()[1];
        if (a == null || b == null) {
          TensorView present = a != null ? a : b;
          throw new InvalidInputException(file, present.name(), "has no " + (a == null ? "lora_A" : "lora_B")
              + " partner; a LoRA update needs both factors");
        }
        long r = a.shape()[0];
        if (b.shape()[1] != r) {
          throw new InvalidInputException(file, b.name(), "has shape " + TensorView.formatShape(b.shape())
              + " but " + a.name() + " has " + r + " rows: B is [out, r], A is [r, in]");
        }
        int rank = config.rankOf(module);
        if (r != rank) {
          throw new InvalidInputException(file, a.name(), "has rank " + r + " but " + LoraConfig.FILE_NAME
              + " gives module " + module + " rank " + rank + " (r or rank_pattern); the scale alpha/r depends on it");
        }
        boolean transposed = embedding.get(module) || config.fanInFanOut();
        modules.add(new LoraModule(module, module + ".weight", a, b, rank, config.alphaOf(module),
            config.scaleOf(module), transposed));
      }
      if (modules.isEmpty() && replacements.isEmpty()) {
        throw new InvalidInputException(file, null, "holds no LoRA factors (lora_A/lora_B) and no other tensors");
      }
      return new LoraAdapter(folder, config, weights, modules, replacements);
    } catch (RuntimeException e) {
      weights.close();
      throw e;
    }
  }

  /** {@return the adapter folder} */
  public Path folder() {
    return folder;
  }

  /** {@return the parsed config} */
  public LoraConfig config() {
    return config;
  }

  /** {@return the target modules with their factors, in file order} */
  public List<LoraModule> modules() {
    return modules;
  }

  /** {@return the tensors the adapter stores in full (modules_to_save, biases), under the base's names} */
  public SequencedMap<String, TensorView> replacements() {
    return replacements;
  }

  /**
   * The base with the adapter merged on read: every tensor of {@code base}, the target modules'
   * weights as {@code W + scale B A} computed per element when read, replaced tensors as the
   * adapter stores them. Both stay owned by their openers; closing the result closes nothing.
   *
   * @param base the base checkpoint the adapter was trained on; must stay open while the result
   *     is read
   * @return a checkpoint view of the merged model, valid while both this adapter and {@code base}
   *     are open
   * @throws InvalidInputException naming the adapter file and the tensor when a module has no
   *     weight in the base, or its factors do not fit the weight's shape
   */
  public Checkpoint applyTo(Checkpoint base) {
    Objects.requireNonNull(base, "base");
    Path file = folder.resolve(WEIGHTS);
    SequencedMap<String, TensorView> out = new LinkedHashMap<>(base.tensors());
    for (LoraModule m : modules) {
      TensorView w = base.tensors().get(m.weight());
      if (w == null) {
        throw new InvalidInputException(file, m.a().name(), "updates module " + m.module() + ", but the base "
            + base.path() + " has no tensor " + m.weight());
      }
      long[] s = w.shape();
      if (s.length != 2 || w.transposed()) {
        throw new InvalidInputException(file, m.a().name(), "updates " + m.weight() + ", which in the base is "
            + (w.transposed() ? "stored transposed" : "of shape " + TensorView.formatShape(s)) + "; LoRA updates"
            + " plain matrices");
      }
      long out0 = m.transposed() ? s[1] : s[0];
      long in0 = m.transposed() ? s[0] : s[1];
      if (m.a().shape()[1] != in0) {
        throw new InvalidInputException(file, m.a().name(), "has shape " + TensorView.formatShape(m.a().shape())
            + " (r x in) but the base's " + m.weight() + " is " + TensorView.formatShape(s)
            + (m.transposed() ? " (" + (config.fanInFanOut() ? "fan_in_fan_out" : "embedding") + ": in = "
                + s[0] + ")" : " (in = " + s[1] + ")"));
      }
      if (m.b().shape()[0] != out0) {
        throw new InvalidInputException(file, m.b().name(), "has shape " + TensorView.formatShape(m.b().shape())
            + " (out x r) but the base's " + m.weight() + " is " + TensorView.formatShape(s) + " (out = " + out0 + ")");
      }
      out.put(m.weight(), new LoraMergedView(w, m));
    }
    for (var e : replacements.entrySet()) {
      TensorView w = base.tensors().get(e.getKey());
      if (w == null) {
        throw new InvalidInputException(file, e.getValue().name(), "is stored in full but the base " + base.path()
            + " has no tensor " + e.getKey() + " to replace");
      }
      if (!Arrays.equals(w.shape(), e.getValue().shape())) {
        throw new InvalidInputException(file, e.getValue().name(), "has shape "
            + TensorView.formatShape(e.getValue().shape()) + " but the base's " + e.getKey() + " is "
            + TensorView.formatShape(w.shape()));
      }
      out.put(e.getKey(), new RenamedTensorView(e.getKey(), e.getValue()));
    }
    return new Merged(base, folder, out, note(base));
  }

  private String note(Checkpoint base) {
    TreeSet<Integer> ranks = new TreeSet<>();
    TreeSet<String> kinds = new TreeSet<>();
    for (LoraModule m : modules) {
      ranks.add(m.rank());
      String last = m.module().substring(m.module().lastIndexOf('.') + 1);
      kinds.add(last);
    }
    String rank = ranks.isEmpty() ? "none" : ranks.size() == 1 ? Integer.toString(ranks.first())
        : ranks.first() + "-" + ranks.last();
    return String.format(java.util.Locale.ROOT, "the base %s with the LoRA adapter %s merged on read (PEFT; rank r = %s,"
        + " lora_alpha = %s, scale %s = %s%s; %d target modules (%s)%s%s); each merged element is W + scale (B A),"
        + " summed in f64, never stored, so the relative change of a module is |scale B A| / |W|",
        base.path(), folder, rank, trim(config.alpha()), config.rsLora() ? "alpha/sqrt(r)" : "alpha/r",
        trim(config.scaleOf("")), config.rankPattern().isEmpty() && config.alphaPattern().isEmpty() ? ""
            : ", per-module overrides in rank_pattern/alpha_pattern", modules.size(), String.join(", ", kinds),
        replacements.isEmpty() ? "" : ", " + replacements.size() + " tensors stored in full",
        config.baseModel().isEmpty() ? "" : "; trained on " + config.baseModel());
  }

  private static String trim(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
  }

  /** Unmaps the adapter's weights; merged checkpoints are unusable afterwards. Idempotent. */
  @Override
  public void close() {
    weights.close();
  }

  /** The base with the adapter applied, named by the adapter's folder. */
  private record Merged(Checkpoint base, Path path, SequencedMap<String, TensorView> tensors, String note)
      implements Checkpoint {
    Merged {
      tensors = Collections.unmodifiableSequencedMap(tensors);
    }

    @Override
    public String format() {
      return base.format() + "+lora";
    }

    @Override
    public Map<String, String> metadata() {
      return base.metadata();
    }

    @Override
    public List<String> notes() {
      return List.of(note + ".");
    }

    /** The base and the adapter stay open; their owners close them. */
    @Override
    public void close() {}
  }
}
