package io.crosscoder.report.html;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Rectangle2D;
import java.util.List;
import java.util.Objects;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.axis.ValueAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.LookupPaintScale;
import org.jfree.chart.renderer.xy.StandardXYBarPainter;
import org.jfree.chart.renderer.xy.XYBarRenderer;
import org.jfree.chart.renderer.xy.XYBlockRenderer;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.LegendTitle;
import org.jfree.chart.title.PaintScaleLegend;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.chart.ui.RectangleInsets;
import org.jfree.data.xy.DefaultXYZDataset;
import org.jfree.data.xy.XYIntervalSeries;
import org.jfree.data.xy.XYIntervalSeriesCollection;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.jfree.svg.SVGGraphics2D;
import org.jfree.svg.ViewBox;

/**
 * Charts drawn by JFreeChart into SVG by JFreeSVG, for the HTML reports: the SVG needs no script
 * to show, scales with the page ({@code viewBox}, no fixed size) and prints as vectors. The ids of
 * a chart's clip paths start with a hash of its drawing, so several charts can share one page and
 * the same chart is the same text every time.
 *
 * <p>Non-finite values are left out of every chart (a gap in a line, no bar, no point); the caller
 * aggregates or samples large inputs first, since the SVG grows with the points drawn (about 100
 * bytes a point). Thread-safe: each call builds its own chart.
 */
public final class Charts {
  /** Default width of a chart's drawing, in SVG user units (CSS pixels at 100%). */
  public static final int WIDTH = 760;
  /** Default height of a chart's drawing. */
  public static final int HEIGHT = 340;

  private static final String ID_PLACEHOLDER = "crosscoder-chart-id-";
  private static final Font TITLE = new Font("SansSerif", Font.BOLD, 14);
  private static final Font LABEL = new Font("SansSerif", Font.PLAIN, 12);
  private static final Font TICK = new Font("SansSerif", Font.PLAIN, 11);
  /** A palette readable by the colour-blind (Okabe and Ito 2008), then greys. */
  private static final Color[] PALETTE = {
    new Color(0x0072B2), new Color(0xD55E00), new Color(0x009E73), new Color(0xCC79A7), new Color(0xE69F00),
    new Color(0x56B4E9), new Color(0xF0E442), new Color(0x000000), new Color(0x999999), new Color(0x666666)
  };

  static {
    // JFreeChart otherwise draws rotated text (the y axis' label) as glyph outlines: text keeps the SVG small and
    // searchable. A global switch, but this class is JFreeChart's only user here.
    org.jfree.chart.text.TextUtils.setUseDrawRotatedStringWorkaround(false);
  }

  private Charts() {}

  /**
   * A named line of points; the arrays are used as given (not copied), of equal length.
   *
   * @param name the legend's text
   * @param x abscissae
   * @param y ordinates (non-finite ones are gaps)
   */
  public record Series(String name, double[] x, double[] y) {
    /**
     * Checks the name and the lengths.
     *
     * @throws IllegalArgumentException if {@code x} and {@code y} differ in length
     */
    public Series {
      Objects.requireNonNull(name, "name");
      if (x.length != y.length) {
        throw new IllegalArgumentException(name + ": " + x.length + " x values but " + y.length + " y values");
      }
    }
  }

  /**
   * A vertical line across a chart at {@code x}, labelled.
   *
   * @param x where, in data units
   * @param label its text
   */
  public record Marker(double x, String label) {}

  /**
   * One line per series against a shared x axis, with points drawn where a series has few of them.
   *
   * @param title the chart's title, plain text
   * @param xLabel the x axis' label, plain text
   * @param yLabel the y axis' label, plain text
   * @param series the lines, in legend order (a legend is drawn for two or more)
   * @param integerX whether the x axis shows whole numbers only (layers, steps)
   * @param logY whether the y axis is logarithmic (values at or below 0 are then left out)
   * @return an {@code <svg>} element, without XML declaration, to put in a page
   */
  public static String lines(String title, String xLabel, String yLabel, List<Series> series, boolean integerX,
      boolean logY) {
    XYSeriesCollection data = new XYSeriesCollection();
    int maxPoints = 0;
    for (Series s : series) {
      XYSeries xs = new XYSeries(s.name(), false, true);
      for (int i = 0; i < s.x().length; i++) {
        double y = s.y()[i];
        boolean ok = Double.isFinite(y) && Double.isFinite(s.x()[i]) && (!logY || y > 0);
        // null marks a gap, so a line does not bridge a missing value
        xs.add(s.x()[i], ok ? (Double) y : null);
      }
      maxPoints = Math.max(maxPoints, s.x().length);
      data.addSeries(xs);
    }
    NumberAxis x = new NumberAxis(xLabel);
    if (integerX) {
      x.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
    }
    x.setAutoRangeIncludesZero(false);
    ValueAxis y = logY ? logAxis(yLabel) : numberAxis(yLabel);
    XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, maxPoints <= 64);
    // One path per series, not one element per segment: the SVG of a long curve stays small.
    r.setDrawSeriesLineAsPath(true);
    for (int i = 0; i < series.size(); i++) {
      r.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
      r.setSeriesStroke(i, new BasicStroke(i < PALETTE.length ? 1.6f : 1.0f));
      r.setSeriesShape(i, new Ellipse2D.Double(-2.5, -2.5, 5, 5));
    }
    XYPlot plot = new XYPlot(data, x, y, r);
    return svg(chart(title, plot, series.size() > 1), WIDTH, HEIGHT);
  }

  /**
   * Points, one colour per series (a scatter plot).
   *
   * @param title the chart's title, plain text
   * @param xLabel the x axis' label, plain text
   * @param yLabel the y axis' label, plain text
   * @param series the point sets, in legend order (a legend is drawn for two or more)
   * @param markers vertical lines (e.g. {@code nu = 0})
   * @return an {@code <svg>} element, without XML declaration, to put in a page
   */
  public static String scatter(String title, String xLabel, String yLabel, List<Series> series, List<Marker> markers) {
    XYSeriesCollection data = new XYSeriesCollection();
    for (Series s : series) {
      XYSeries xs = new XYSeries(s.name(), false, true);
      for (int i = 0; i < s.x().length; i++) {
        if (Double.isFinite(s.x()[i]) && Double.isFinite(s.y()[i])) {
          xs.add(s.x()[i], s.y()[i]);
        }
      }
      data.addSeries(xs);
    }
    XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(false, true);
    for (int i = 0; i < series.size(); i++) {
      r.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
      // A square is one <rect> in SVG, a circle a path of four curves: a scatter of thousands stays light.
      r.setSeriesShape(i, new Rectangle2D.Double(-2, -2, 4, 4));
    }
    NumberAxis x = numberAxis(xLabel);
    XYPlot plot = new XYPlot(data, x, numberAxis(yLabel), r);
    double lo = series.stream().flatMapToDouble(s -> java.util.Arrays.stream(s.x())).filter(Double::isFinite).min()
        .orElse(0);
    double hi = series.stream().flatMapToDouble(s -> java.util.Arrays.stream(s.x())).filter(Double::isFinite).max()
        .orElse(1);
    markers.forEach(m -> plot.addDomainMarker(marker(m, lo, hi)));
    return svg(chart(title, plot, series.size() > 1), WIDTH, HEIGHT);
  }

  /**
   * A histogram: bar {@code k} spans {@code [edges[k], edges[k + 1])} with height {@code counts[k]}.
   * On a logarithmic count axis (the usual view of a few thousand latents against a handful) a
   * bar starts at 0.5, so a count of 1 shows, and an empty bin has no bar.
   *
   * @param title the chart's title, plain text
   * @param xLabel the x axis' label, plain text
   * @param edges the bin edges, one more than the counts, ascending
   * @param counts the count of each bin
   * @param logCounts whether the count axis is logarithmic
   * @param markers vertical lines (class thresholds, say)
   * @return an {@code <svg>} element, without XML declaration, to put in a page
   * @throws IllegalArgumentException if there is not one more edge than counts
   */
  public static String histogram(String title, String xLabel, double[] edges, long[] counts, boolean logCounts,
      List<Marker> markers) {
    if (edges.length != counts.length + 1) {
      throw new IllegalArgumentException(edges.length + " edges for " + counts.length + " bins; need one more");
    }
    XYIntervalSeries s = new XYIntervalSeries("latents");
    double base = logCounts ? 0.5 : 0;
    for (int k = 0; k < counts.length; k++) {
      if (counts[k] > 0 || !logCounts) {
        s.add((edges[k] + edges[k + 1]) / 2, edges[k], edges[k + 1], counts[k], base, counts[k]);
      }
    }
    XYIntervalSeriesCollection data = new XYIntervalSeriesCollection();
    data.addSeries(s);
    XYBarRenderer r = new XYBarRenderer();
    r.setUseYInterval(true);
    r.setBarPainter(new StandardXYBarPainter());
    r.setShadowVisible(false);
    r.setDrawBarOutline(true);
    r.setSeriesOutlinePaint(0, Color.WHITE);
    r.setSeriesPaint(0, PALETTE[0]);
    NumberAxis x = numberAxis(xLabel);
    x.setRange(edges[0], edges[edges.length - 1]);
    ValueAxis y;
    if (logCounts) {
      LogAxis la = logAxis("count (log scale)");
      long max = 1;
      for (long c : counts) {
        max = Math.max(max, c);
      }
      la.setRange(base, max * 2.0);
      // One tick per power of ten: 1, 10, 100, ...
      la.setTickUnit(new org.jfree.chart.axis.NumberTickUnit(1), false, true);
      y = la;
    } else {
      y = numberAxis("count");
    }
    XYPlot plot = new XYPlot(data, x, y, r);
    markers.forEach(m -> plot.addDomainMarker(marker(m, edges[0], edges[edges.length - 1])));
    return svg(chart(title, plot, false), WIDTH, HEIGHT);
  }

  /**
   * Bars for named categories (bands, classes), left to right in the given order.
   *
   * @param title the chart's title, plain text
   * @param yLabel the value axis' label, plain text
   * @param categories the bars' labels, left to right
   * @param values one per category; non-finite ones get no bar
   * @return an {@code <svg>} element, without XML declaration, to put in a page
   * @throws IllegalArgumentException if there are not as many values as categories
   */
  public static String bars(String title, String yLabel, List<String> categories, double[] values) {
    if (categories.size() != values.length) {
      throw new IllegalArgumentException(categories.size() + " categories but " + values.length + " values");
    }
    XYIntervalSeries s = new XYIntervalSeries(yLabel);
    for (int k = 0; k < values.length; k++) {
      if (Double.isFinite(values[k])) {
        s.add(k, k - 0.35, k + 0.35, values[k], 0, values[k]);
      }
    }
    XYIntervalSeriesCollection data = new XYIntervalSeriesCollection();
    data.addSeries(s);
    XYBarRenderer r = new XYBarRenderer();
    r.setUseYInterval(true);
    r.setBarPainter(new StandardXYBarPainter());
    r.setShadowVisible(false);
    r.setSeriesPaint(0, PALETTE[0]);
    SymbolAxis x = new SymbolAxis(null, categories.toArray(String[]::new));
    x.setTickLabelFont(LABEL);
    x.setGridBandsVisible(false);
    x.setRange(-0.6, values.length - 0.4);
    XYPlot plot = new XYPlot(data, x, numberAxis(yLabel), r);
    return svg(chart(title, plot, false), WIDTH, 280);
  }

  /**
   * A heat map: cell {@code (column c, row k)} coloured by {@code values[k][c]} on a white-to-blue
   * scale from {@code low} to {@code high}; non-finite cells stay blank. {@code marked} cells (one
   * {@code {column, row}} pair each, may be empty) get a dot, e.g. a layer mapping's choices.
   *
   * @param title the chart's title, plain text
   * @param xLabel the x axis' label, plain text
   * @param valueLabel the colour scale's label, plain text
   * @param columns the x axis' labels (layers, say)
   * @param rows the y axis' labels (parameter kinds, say), bottom to top
   * @param values {@code values[row][column]}, one row per row label, one value per column label
   * @param low the value drawn white
   * @param high the value drawn darkest blue
   * @param marked the {@code {column, row}} cells that get a dot; may be empty
   * @return an {@code <svg>} element, without XML declaration, to put in a page
   * @throws IllegalArgumentException if {@code values} does not match the labels
   */
  public static String heatmap(String title, String xLabel, String valueLabel, List<String> columns,
      List<String> rows, double[][] values, double low, double high, List<int[]> marked) {
    if (values.length != rows.size()) {
      throw new IllegalArgumentException(rows.size() + " row labels but " + values.length + " rows");
    }
    int n = 0;
    for (double[] row : values) {
      if (row.length != columns.size()) {
        throw new IllegalArgumentException(columns.size() + " column labels but a row of " + row.length);
      }
      for (double v : row) {
        n += Double.isFinite(v) ? 1 : 0;
      }
    }
    double[][] xyz = new double[3][n];
    int i = 0;
    for (int k = 0; k < values.length; k++) {
      for (int c = 0; c < columns.size(); c++) {
        if (Double.isFinite(values[k][c])) {
          xyz[0][i] = c;
          xyz[1][i] = k;
          xyz[2][i] = values[k][c];
          i++;
        }
      }
    }
    DefaultXYZDataset data = new DefaultXYZDataset();
    data.addSeries(valueLabel, xyz);
    double hi = high > low ? high : low + 1;
    LookupPaintScale scale = new LookupPaintScale(low, hi, new Color(0xEEEEEE));
    int steps = 32;
    for (int s = 0; s < steps; s++) {
      float t = (float) s / (steps - 1);
      // white to the palette's blue, through a light blue
      scale.add(low + (hi - low) * s / steps, new Color(lerp(0xF7, 0x08, t), lerp(0xFB, 0x30, t), lerp(0xFF, 0x6B, t)));
    }
    XYBlockRenderer r = new XYBlockRenderer();
    r.setPaintScale(scale);
    SymbolAxis x = new SymbolAxis(xLabel, columns.toArray(String[]::new));
    x.setGridBandsVisible(false);
    x.setTickLabelFont(TICK);
    x.setRange(-0.5, columns.size() - 0.5);
    if (columns.size() > 16) {
      x.setVerticalTickLabels(true);
    }
    SymbolAxis y = new SymbolAxis(null, rows.toArray(String[]::new));
    y.setGridBandsVisible(false);
    y.setTickLabelFont(TICK);
    y.setRange(-0.5, rows.size() - 0.5);
    XYPlot plot = new XYPlot(data, x, y, r);
    plot.setDomainGridlinesVisible(false);
    plot.setRangeGridlinesVisible(false);
    if (!marked.isEmpty()) {
      XYSeries m = new XYSeries("mapped", false, true);
      for (int[] cell : marked) {
        m.add(cell[0], cell[1]);
      }
      XYLineAndShapeRenderer dots = new XYLineAndShapeRenderer(false, true);
      dots.setSeriesPaint(0, PALETTE[1]);
      dots.setSeriesShape(0, new Ellipse2D.Double(-4, -4, 8, 8));
      plot.setDataset(1, new XYSeriesCollection(m));
      plot.setRenderer(1, dots);
    }
    JFreeChart chart = chart(title, plot, false);
    NumberAxis legendAxis = new NumberAxis(valueLabel);
    legendAxis.setRange(low, hi);
    legendAxis.setTickLabelFont(TICK);
    legendAxis.setLabelFont(LABEL);
    PaintScaleLegend legend = new PaintScaleLegend(scale, legendAxis);
    legend.setPosition(RectangleEdge.RIGHT);
    legend.setMargin(new RectangleInsets(8, 8, 8, 8));
    legend.setStripWidth(12);
    chart.addSubtitle(legend);
    int height = Math.max(220, Math.min(900, 60 + 22 * rows.size()));
    return svg(chart, WIDTH, height);
  }

  private static int lerp(int a, int b, float t) {
    return Math.round(a + (b - a) * t);
  }

  private static NumberAxis numberAxis(String label) {
    NumberAxis a = new NumberAxis(label);
    a.setAutoRangeIncludesZero(false);
    a.setLabelFont(LABEL);
    a.setTickLabelFont(TICK);
    return a;
  }

  private static LogAxis logAxis(String label) {
    LogAxis a = new LogAxis(label);
    a.setBase(10);
    a.setSmallestValue(1e-12);
    a.setLabelFont(LABEL);
    a.setTickLabelFont(TICK);
    a.setMinorTickMarksVisible(false);
    // Plain numbers (0.01, 1, 1,000), not JFreeChart's default of superscripted powers drawn as outlines.
    a.setNumberFormatOverride(new ShortFormat());
    return a;
  }

  /** Numbers as a reader writes them: integers with separators, others to three significant digits. */
  private static final class ShortFormat extends java.text.NumberFormat {
    @Override
    public StringBuffer format(double v, StringBuffer to, java.text.FieldPosition pos) {
      if (v == Math.rint(v) && Math.abs(v) >= 1 && Math.abs(v) < 1e9) {
        return to.append(String.format(java.util.Locale.ROOT, "%,d", (long) v));
      }
      return to.append(String.format(java.util.Locale.ROOT, Math.abs(v) >= 1e-3 && Math.abs(v) < 1e9 ? "%.3g" : "%.2e", v)
          .replaceAll("(\\.\\d*?)0+$", "$1").replaceAll("\\.$", ""));
    }

    @Override
    public StringBuffer format(long v, StringBuffer to, java.text.FieldPosition pos) {
      return format((double) v, to, pos);
    }

    @Override
    public Number parse(String source, java.text.ParsePosition pos) {
      throw new UnsupportedOperationException("for display only");
    }
  }

  private static ValueMarker marker(Marker m, double low, double high) {
    ValueMarker v = new ValueMarker(m.x(), PALETTE[1], new BasicStroke(1.2f, BasicStroke.CAP_BUTT,
        BasicStroke.JOIN_MITER, 10, new float[] {5, 3}, 0));
    v.setLabel(m.label());
    v.setLabelFont(TICK);
    v.setLabelPaint(PALETTE[1]);
    v.setLabelOffset(new RectangleInsets(4, 4, 4, 4));
    // Labels go toward the middle of the chart, so the ones near an edge are not cut.
    boolean right = m.x() > (low + high) / 2;
    v.setLabelAnchor(right ? org.jfree.chart.ui.RectangleAnchor.TOP_LEFT : org.jfree.chart.ui.RectangleAnchor.TOP_RIGHT);
    v.setLabelTextAnchor(right ? org.jfree.chart.ui.TextAnchor.TOP_RIGHT : org.jfree.chart.ui.TextAnchor.TOP_LEFT);
    v.setLabelBackgroundColor(new Color(255, 255, 255, 0));
    return v;
  }

  private static JFreeChart chart(String title, XYPlot plot, boolean legend) {
    plot.setBackgroundPaint(Color.WHITE);
    plot.setDomainGridlinePaint(new Color(0xDDDDDD));
    plot.setRangeGridlinePaint(new Color(0xDDDDDD));
    plot.setOutlineVisible(false);
    plot.setOrientation(PlotOrientation.VERTICAL);
    plot.getDomainAxis().setLabelFont(LABEL);
    plot.getDomainAxis().setTickLabelFont(TICK);
    JFreeChart c = new JFreeChart(null, TITLE, plot, legend);
    c.setTitle(new TextTitle(title, TITLE));
    c.setBackgroundPaint(Color.WHITE);
    c.setAntiAlias(true);
    c.setTextAntiAlias(true);
    LegendTitle l = c.getLegend();
    if (l != null) {
      l.setItemFont(TICK);
      l.setFrame(org.jfree.chart.block.BlockBorder.NONE);
    }
    return c;
  }

  /** A coordinate to a tenth of a unit: finer than a screen or a printer shows a 760-unit chart. */
  private static String tenth(double v) {
    if (!Double.isFinite(v)) {
      return "0";
    }
    long t = Math.round(v * 10);
    long whole = t / 10;
    long frac = Math.abs(t % 10);
    String sign = t < 0 && whole == 0 ? "-" : "";
    return frac == 0 ? Long.toString(whole) : sign + whole + "." + frac;
  }

  private static String svg(JFreeChart chart, int width, int height) {
    SVGGraphics2D g = new SVGGraphics2D(width, height);
    g.setDefsKeyPrefix(ID_PLACEHOLDER);
    g.setGeomDoubleConverter(Charts::tenth);
    chart.draw(g, new Rectangle2D.Double(0, 0, width, height));
    String svg = g.getSVGElement(null, false, new ViewBox(0, 0, width, height), null, null);
    // Ids from the drawing itself: two charts on a page differ, and the same report renders to the same bytes.
    String id = "c" + Integer.toHexString(svg.hashCode()) + "-";
    return svg.replace(ID_PLACEHOLDER, id);
  }
}
