package io.crosscoder.io.models;

import io.crosscoder.InvalidInputException;
import io.crosscoder.backend.Kernels;
import io.crosscoder.io.onnx.OnnxLanguageModel;
import io.crosscoder.io.tokenizer.HuggingFaceTokenizers;
import io.crosscoder.model.LanguageModel;
import io.crosscoder.model.Site;
import io.crosscoder.model.Tokenizer;
import io.crosscoder.model.decoder.DecoderModel;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Opens a model to run, from what a user types: the name of a bundled model ({@link
 * BundledModel}, e.g. {@code bge-small-en}), an {@code .onnx} file, or a folder. The model and its
 * tokenizer come from:
 *
 * <ul>
 *   <li>a bundled model: its {@code .onnx} and {@code -tokenizer.json}, extracted from the jar;
 *   <li>a folder with {@code config.json}: a Hugging Face decoder ({@link DecoderModel}: Llama,
 *       Qwen2, Mistral, Qwen3), with the folder's {@code tokenizer.json}, run on the given kernels;
 *   <li>an {@code .onnx} file, or a folder holding exactly one: an encoder run by ONNX Runtime
 *       ({@link OnnxLanguageModel}), with {@code tokenizer.json} or {@code NAME-tokenizer.json}
 *       beside it.
 * </ul>
 */
public final class LanguageModels {
  private LanguageModels() {}

  /**
   * Where a model argument leads.
   *
   * @param kind how the model is run
   * @param model the {@code .onnx} file, or the decoder's folder
   * @param tokenizer its {@code tokenizer.json}
   */
  public record Location(Kind kind, Path model, Path tokenizer) {}

  /** How a model is run. */
  public enum Kind {
    /** ONNX Runtime. */
    ONNX,
    /** This library's decoder forward pass. */
    DECODER
  }

  /**
   * Resolves an argument without opening anything (a bundled model is extracted, though).
   *
   * @param argument a bundled model's name, an {@code .onnx} file, or a folder
   * @return where the model and its tokenizer are
   * @throws InvalidInputException if there is no such model, or its tokenizer is missing
   */
  public static Location locate(String argument) {
    Objects.requireNonNull(argument, "argument");
    Path path = Path.of(argument);
    if (!Files.exists(path)) {
      BundledModel m = BundledModel.named(argument).orElseThrow(() -> new InvalidInputException(path, null,
          "no such file or folder, and no bundled model of that name ('crosscoder models' lists them)"));
      return new Location(Kind.ONNX, m.extract(), m.extractTokenizer());
    }
    if (Files.isDirectory(path)) {
      if (Files.isRegularFile(path.resolve("config.json"))) {
        return new Location(Kind.DECODER, path, requireTokenizer(path, path.resolve("tokenizer.json")));
      }
      List<Path> onnx = onnxFiles(path);
      if (onnx.size() != 1) {
        throw new InvalidInputException(path, null, onnx.isEmpty()
            ? "holds neither config.json (a Hugging Face decoder) nor an .onnx model"
            : "holds " + onnx.size() + " .onnx files; name the one to run");
      }
      return onnxLocation(onnx.getFirst());
    }
    if (path.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".onnx")) {
      return onnxLocation(path);
    }
    throw new InvalidInputException(path, null, "not a model this library runs: give an .onnx file, a Hugging Face"
        + " decoder folder (config.json, safetensors, tokenizer.json) or a bundled model's name");
  }

  private static Location onnxLocation(Path onnx) {
    String name = onnx.getFileName().toString();
    String stem = name.substring(0, name.length() - ".onnx".length());
    Path sibling = onnx.resolveSibling(stem + "-tokenizer.json");
    Path plain = onnx.resolveSibling("tokenizer.json");
    return new Location(Kind.ONNX, onnx, requireTokenizer(onnx, Files.isRegularFile(sibling) ? sibling : plain));
  }

  private static Path requireTokenizer(Path model, Path tokenizer) {
    if (!Files.isRegularFile(tokenizer)) {
      throw new InvalidInputException(model, null, "has no tokenizer: expected " + tokenizer
          + " (running a model on text needs the tokenizer it was trained with)");
    }
    return tokenizer;
  }

  private static List<Path> onnxFiles(Path folder) {
    List<Path> out = new ArrayList<>();
    try (DirectoryStream<Path> s = Files.newDirectoryStream(folder, "*.onnx")) {
      s.forEach(out::add);
    } catch (IOException e) {
      throw new InvalidInputException(folder, null, "cannot list: " + e.getMessage(), e);
    }
    return out;
  }

  /**
   * Opens the model at {@code location}.
   *
   * @param location a location from {@link #locate}
   * @param kernels runs a decoder (the caller keeps and closes them; they must outlive the model);
   *     unused for ONNX models
   * @param lastSite the deepest site that will be read, or null for all; given one, an ONNX model
   *     skips the blocks after it
   * @param threads ONNX Runtime's intra-op threads
   * @return the open model, which owns its tokenizer; the caller closes it
   * @throws InvalidInputException if the model or its tokenizer cannot be read
   */
  public static LanguageModel open(Location location, Kernels kernels, Site lastSite, int threads) {
    Tokenizer tokenizer = HuggingFaceTokenizers.open(location.tokenizer());
    try {
      return switch (location.kind()) {
        case DECODER -> DecoderModel.open(location.model(), Objects.requireNonNull(kernels, "kernels"), tokenizer);
        case ONNX -> {
          OnnxLanguageModel.Options.Builder o = OnnxLanguageModel.Options.builder().intraOpThreads(threads);
          if (lastSite != null) {
            o.lastSite(lastSite);
          }
          yield OnnxLanguageModel.open(location.model(), tokenizer, o.build());
        }
      };
    } catch (RuntimeException e) {
      tokenizer.close();
      throw e;
    }
  }
}
