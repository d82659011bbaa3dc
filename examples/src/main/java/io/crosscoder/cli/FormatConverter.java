package io.crosscoder.cli;

import io.crosscoder.report.ReportFormat;
import picocli.CommandLine;

/** Parses {@code md}, {@code json}, {@code csv} or {@code html}. */
final class FormatConverter implements CommandLine.ITypeConverter<ReportFormat> {
  @Override
  public ReportFormat convert(String value) {
    return ReportFormat.parse(value).orElseThrow(
        () -> new CommandLine.TypeConversionException("unknown format '" + value + "': use md, json, csv or html"));
  }
}
