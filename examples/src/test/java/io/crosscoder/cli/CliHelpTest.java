package io.crosscoder.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Every option of every command says what it does and, where it takes a value, what happens
 * without it; and the help renders without picocli complaining (an unescaped {@code %} in a
 * description makes picocli print a warning and show the raw text).
 */
class CliHelpTest {
  private static Map<String, CommandLine> commands() {
    return CrosscoderCli.commandLine(null).getSubcommands();
  }

  @Test
  void everyOptionIsDescribedWithItsDefault() {
    List<String> missing = new ArrayList<>();
    int checked = 0;
    for (Map.Entry<String, CommandLine> c : commands().entrySet()) {
      for (OptionSpec o : c.getValue().getCommandSpec().options()) {
        if (o.usageHelp() || o.versionHelp()) {
          continue;
        }
        checked++;
        String description = String.join(" ", o.description());
        String where = c.getKey() + " " + o.longestName();
        if (description.isBlank()) {
          missing.add(where + ": no description");
          continue;
        }
        // A flag (no value) has the obvious default, off; an option with a value says its own.
        boolean takesValue = o.arity().max() > 0 && !o.type().equals(boolean.class);
        if (takesValue && !o.required() && !description.toLowerCase(Locale.ROOT).contains("default")) {
          missing.add(where + ": no default in '" + description + "'");
        }
        if (o.required() && !description.contains("required")) {
          missing.add(where + ": required but not said so in '" + description + "'");
        }
        if (description.contains("${") || description.contains("\\$")) {
          missing.add(where + ": unexpanded variable in '" + description + "'");
        }
      }
    }
    assertThat(missing).isEmpty();
    // diff, lineage, synthetic, harvest, train, analyze and crosscode have about 70 options together.
    assertThat(checked).isGreaterThan(60);
  }

  @Test
  void eachSubcommandIsRegisteredUnderItsOwnNameAndAloneWhenItIsRun() {
    Map<String, CommandLine> all = commands();
    assertThat(all).hasSize(11);
    for (Map.Entry<String, CommandLine> c : all.entrySet()) {
      CommandLine.Command annotation = c.getValue().getCommand().getClass().getAnnotation(CommandLine.Command.class);
      assertThat(annotation.name()).as("the @Command name of %s", c.getKey()).isEqualTo(c.getKey());
      assertThat(CrosscoderCli.commandLine(c.getKey()).getSubcommands().keySet())
          .as("registered for 'crosscoder %s ...'", c.getKey())
          .containsExactly(c.getKey().equals("help") ? all.keySet().toArray(new String[0]) : new String[] {c.getKey()});
    }
    assertThat(CrosscoderCli.commandLine("dif").getSubcommands().keySet()).as("a misspelt command").isEqualTo(all.keySet());
  }

  @Test
  void trainHelpShowsTheDefaultsOfBatchLrSeedAndSteps() {
    // Line breaks fall where the terminal width puts them: compare with runs of blanks as one space.
    String help = commands().get("train").getUsageMessage(CommandLine.Help.Ansi.OFF).replaceAll("\\s+", " ");
    assertThat(help).contains("--batch=B", "Tokens per step; default 4096.");
    assertThat(help).contains("--steps=N", "Optimiser steps; default 1000.");
    assertThat(help).contains("--seed=S", "default 0.");
    assertThat(help).contains("--lr=LR", "Peak learning rate; default min(1e-2");
    assertThat(help).contains("default 5% of the steps, at most 1000.");
  }

  @Test
  void helpRendersWithoutPicocliWarnings() {
    PrintStream saved = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    try {
      System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
      for (CommandLine c : commands().values()) {
        assertThat(c.getUsageMessage(CommandLine.Help.Ansi.OFF)).isNotBlank();
      }
    } finally {
      System.setErr(saved);
    }
    assertThat(captured.toString(StandardCharsets.UTF_8)).doesNotContain("picocli WARN");
  }
}
