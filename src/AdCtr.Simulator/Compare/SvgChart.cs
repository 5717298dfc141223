using System.Globalization;
using System.Text;

namespace AdCtr.Simulator.Compare;

/// <summary>One named series of (x, y) points; NaN points are skipped.</summary>
public sealed record ChartSeries(string Name, IReadOnlyList<(double X, double Y)> Points);

/// <summary>
/// Small self-contained SVG line charts (no script, no external style): axes with "nice" ticks, labels, one
/// <c>polyline class="series"</c> per series and a legend. Text is XML-escaped. Coordinates are rounded to one
/// decimal to keep the files small.
/// </summary>
public static class SvgChart
{
    private const double Width = 820;
    private const double Height = 440;
    private const double Left = 70;
    private const double Right = 190;
    private const double Top = 40;
    private const double Bottom = 55;

    /// <summary>Colour-blind-safe palette (Okabe and Ito 2008).</summary>
    private static readonly string[] Palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"];

    /// <summary>A line chart. With <paramref name="diagonal"/>, the two axes share one range and y = x is drawn (reliability diagrams).</summary>
    public static string Render(string title, string xLabel, string yLabel, IReadOnlyList<ChartSeries> series, bool diagonal = false, bool markers = false)
    {
        ArgumentNullException.ThrowIfNull(series);
        double xMin = double.PositiveInfinity, xMax = double.NegativeInfinity, yMin = double.PositiveInfinity, yMax = double.NegativeInfinity;
        foreach (var s in series)
        {
            foreach (var (x, y) in s.Points)
            {
                if (double.IsFinite(x) && double.IsFinite(y))
                {
                    xMin = Math.Min(xMin, x);
                    xMax = Math.Max(xMax, x);
                    yMin = Math.Min(yMin, y);
                    yMax = Math.Max(yMax, y);
                }
            }
        }

        if (!double.IsFinite(xMin))
        {
            xMin = yMin = 0;
            xMax = yMax = 1;
        }

        if (diagonal)
        {
            xMin = yMin = 0;
            xMax = yMax = Math.Max(xMax, yMax) * 1.05;
        }
        else
        {
            var pad = (yMax - yMin) * 0.05;
            yMin -= pad;
            yMax += pad;
        }

        var xTicks = NiceTicks(xMin, xMax, 8);
        var yTicks = NiceTicks(yMin, yMax, 6);
        xMin = Math.Min(xMin, xTicks[0]);
        xMax = Math.Max(xMax, xTicks[^1]);
        yMin = Math.Min(yMin, yTicks[0]);
        yMax = Math.Max(yMax, yTicks[^1]);
        if (xMax <= xMin)
        {
            xMax = xMin + 1;
        }

        if (yMax <= yMin)
        {
            yMax = yMin + 1;
        }

        var plotW = Width - Left - Right;
        var plotH = Height - Top - Bottom;
        double Px(double x) => Left + ((x - xMin) / (xMax - xMin) * plotW);
        double Py(double y) => Top + plotH - ((y - yMin) / (yMax - yMin) * plotH);

        var svg = new StringBuilder(8192);
        svg.Append(Inv($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">\n"));
        svg.Append(Inv($"<rect x=\"0\" y=\"0\" width=\"{Width}\" height=\"{Height}\" fill=\"#ffffff\"/>\n"));
        svg.Append(Inv($"<text x=\"{Width / 2 - (Right / 2)}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{Escape(title)}</text>\n"));

        // Grid and ticks.
        foreach (var t in xTicks)
        {
            var px = Px(t);
            svg.Append(Inv($"<line x1=\"{px:F1}\" y1=\"{Top}\" x2=\"{px:F1}\" y2=\"{Top + plotH}\" stroke=\"#e5e5e5\"/>"));
            svg.Append(Inv($"<text x=\"{px:F1}\" y=\"{Top + plotH + 16}\" text-anchor=\"middle\">{Escape(Format(t))}</text>\n"));
        }

        foreach (var t in yTicks)
        {
            var py = Py(t);
            svg.Append(Inv($"<line x1=\"{Left}\" y1=\"{py:F1}\" x2=\"{Left + plotW}\" y2=\"{py:F1}\" stroke=\"#e5e5e5\"/>"));
            svg.Append(Inv($"<text x=\"{Left - 6}\" y=\"{py + 4:F1}\" text-anchor=\"end\">{Escape(Format(t))}</text>\n"));
        }

        svg.Append(Inv($"<line class=\"axis\" x1=\"{Left}\" y1=\"{Top + plotH}\" x2=\"{Left + plotW}\" y2=\"{Top + plotH}\" stroke=\"#000\"/>"));
        svg.Append(Inv($"<line class=\"axis\" x1=\"{Left}\" y1=\"{Top}\" x2=\"{Left}\" y2=\"{Top + plotH}\" stroke=\"#000\"/>\n"));
        svg.Append(Inv($"<text x=\"{Left + (plotW / 2)}\" y=\"{Height - 12}\" text-anchor=\"middle\">{Escape(xLabel)}</text>\n"));
        svg.Append(Inv($"<text x=\"16\" y=\"{Top + (plotH / 2)}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {Top + (plotH / 2)})\">{Escape(yLabel)}</text>\n"));
        if (diagonal)
        {
            svg.Append(Inv($"<line class=\"diagonal\" x1=\"{Px(0):F1}\" y1=\"{Py(0):F1}\" x2=\"{Px(xMax):F1}\" y2=\"{Py(xMax):F1}\" stroke=\"#888\" stroke-dasharray=\"5,4\"/>\n"));
        }

        for (var s = 0; s < series.Count; s++)
        {
            var colour = Palette[s % Palette.Length];
            svg.Append(Inv($"<polyline class=\"series\" data-name=\"{Escape(series[s].Name)}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.6\" points=\""));
            var first = true;
            foreach (var (x, y) in series[s].Points)
            {
                if (!double.IsFinite(x) || !double.IsFinite(y))
                {
                    continue;
                }

                svg.Append(first ? string.Empty : " ").Append(Inv($"{Px(x):F1},{Py(y):F1}"));
                first = false;
            }

            svg.Append("\"/>\n");
            if (markers)
            {
                foreach (var (x, y) in series[s].Points)
                {
                    if (double.IsFinite(x) && double.IsFinite(y))
                    {
                        svg.Append(Inv($"<circle cx=\"{Px(x):F1}\" cy=\"{Py(y):F1}\" r=\"2.5\" fill=\"{colour}\"/>"));
                    }
                }

                svg.Append('\n');
            }

            // Legend entry.
            var ly = Top + 10 + (s * 20);
            var lx = Width - Right + 15;
            svg.Append(Inv($"<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{lx + 24}\" y2=\"{ly}\" stroke=\"{colour}\" stroke-width=\"3\"/>"));
            svg.Append(Inv($"<text x=\"{lx + 30}\" y=\"{ly + 4}\">{Escape(series[s].Name)}</text>\n"));
        }

        svg.Append("</svg>\n");
        return svg.ToString();
    }

    /// <summary>XML-escapes text for element content and attribute values.</summary>
    public static string Escape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sb = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            switch (c)
            {
                case '&': sb.Append("&amp;"); break;
                case '<': sb.Append("&lt;"); break;
                case '>': sb.Append("&gt;"); break;
                case '"': sb.Append("&quot;"); break;
                case '\'': sb.Append("&apos;"); break;
                default:
                    // Control characters other than tab and newline are not allowed in XML 1.0.
                    if (c >= ' ' || c is '\t' or '\n')
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        return sb.ToString();
    }

    /// <summary>Tick values at 1, 2 or 5 times a power of ten covering [min, max] with about <paramref name="count"/> steps.</summary>
    public static double[] NiceTicks(double min, double max, int count)
    {
        if (!(max > min))
        {
            max = min + 1;
        }

        var raw = (max - min) / Math.Max(1, count);
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var step = magnitude * Step(raw / magnitude);
        var first = Math.Floor(min / step) * step;
        var ticks = new List<double>();
        for (var k = 0; k < 100; k++)
        {
            var t = first + (k * step);
            ticks.Add(Math.Round(t, 12));
            if (t >= max - (step * 1e-9))
            {
                break;
            }
        }

        return [.. ticks];

        static double Step(double normalized) => normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 5 ? 5 : 10;
    }

    private static string Format(double v) => v.ToString("G4", CultureInfo.InvariantCulture);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
