using System.Globalization;
using System.Text;

namespace AdCtr.Server.Metrics;

/// <summary>A unit's Prometheus suffix and the factor that converts measured values to it (value * Multiply / Divide).</summary>
internal readonly record struct PrometheusUnit(string Suffix, double Multiply, double Divide)
{
    public double Convert(double value) => Multiply == 1 && Divide == 1 ? value : value * Multiply / Divide;
}

/// <summary>
/// Names, units, escaping and number formatting of the Prometheus text format 0.0.4
/// (https://prometheus.io/docs/instrumenting/exposition_formats/), following the Prometheus naming practices
/// (snake_case, base units, <c>_total</c> on counters) and the OpenTelemetry-to-Prometheus unit mapping.
/// </summary>
internal static class PrometheusNaming
{
    /// <summary>
    /// A metric or label name: characters outside <c>[a-zA-Z0-9_]</c> (dots, dashes, and also <c>:</c>, which is
    /// reserved for recording rules) become <c>_</c>, camelCase becomes snake_case, everything is lower case,
    /// runs of <c>_</c> collapse, and a leading digit gets a <c>_</c> prefix.
    /// </summary>
    public static string Sanitize(string name)
    {
        var builder = new StringBuilder(name.Length + 4);
        var previous = '\0';
        foreach (var c in name)
        {
            char next;
            if (c is >= 'A' and <= 'Z')
            {
                if (previous is (>= 'a' and <= 'z') or (>= '0' and <= '9'))
                {
                    Append(builder, '_');
                }

                next = (char)(c + ('a' - 'A'));
            }
            else if (c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_')
            {
                next = c;
            }
            else
            {
                next = '_';
            }

            Append(builder, next);
            previous = c;
        }

        if (builder.Length == 0)
        {
            return "_";
        }

        if (builder[0] is >= '0' and <= '9')
        {
            builder.Insert(0, '_');
        }

        return builder.ToString();

        static void Append(StringBuilder builder, char c)
        {
            if (c == '_' && builder.Length > 0 && builder[^1] == '_')
            {
                return;
            }

            builder.Append(c);
        }
    }

    /// <summary>
    /// Maps a UCUM unit (as OpenTelemetry instruments declare them) to a Prometheus base-unit suffix and a
    /// conversion factor: <c>s</c> to seconds, <c>ms</c>/<c>us</c>/<c>ns</c>/<c>min</c>/<c>h</c>/<c>d</c> converted to
    /// seconds, <c>By</c> and its multiples to bytes, <c>1</c> to <c>ratio</c> (gauges only), <c>%</c> to percent,
    /// <c>a/b</c> to <c>a_per_b</c>; annotations in braces (<c>{request}</c>) add nothing.
    /// </summary>
    public static PrometheusUnit MapUnit(string? unit, bool isGauge)
    {
        if (string.IsNullOrWhiteSpace(unit))
        {
            return new PrometheusUnit("", 1, 1);
        }

        if (unit == "1")
        {
            return new PrometheusUnit(isGauge ? "ratio" : "", 1, 1);
        }

        var slash = unit.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            var numerator = MapSimple(unit[..slash]);
            var denominator = MapSimple(unit[(slash + 1)..]);
            var per = Singular(denominator.Suffix);
            var suffix = per.Length == 0 ? numerator.Suffix
                : numerator.Suffix.Length == 0 ? "per_" + per
                : numerator.Suffix + "_per_" + per;
            return new PrometheusUnit(suffix, numerator.Multiply * denominator.Divide, numerator.Divide * denominator.Multiply);
        }

        return MapSimple(unit);
    }

    private static string Singular(string unit) => unit switch
    {
        "seconds" or "bytes" or "meters" or "grams" or "volts" or "amperes" or "joules" or "watts" => unit[..^1],
        _ => unit,
    };

    private static PrometheusUnit MapSimple(string unit) => unit.Trim() switch
    {
        "" => new("", 1, 1),
        ['{', .., '}'] => new("", 1, 1),
        "s" => new("seconds", 1, 1),
        "ms" => new("seconds", 1, 1_000),
        "us" or "μs" => new("seconds", 1, 1_000_000),
        "ns" => new("seconds", 1, 1_000_000_000),
        "min" => new("seconds", 60, 1),
        "h" => new("seconds", 3_600, 1),
        "d" => new("seconds", 86_400, 1),
        "By" => new("bytes", 1, 1),
        "kBy" => new("bytes", 1_000, 1),
        "KiBy" => new("bytes", 1_024, 1),
        "MBy" => new("bytes", 1_000_000, 1),
        "MiBy" => new("bytes", 1_048_576, 1),
        "GBy" => new("bytes", 1_000_000_000, 1),
        "GiBy" => new("bytes", 1_073_741_824, 1),
        "%" => new("percent", 1, 1),
        "m" => new("meters", 1, 1),
        "Cel" => new("celsius", 1, 1),
        "Hz" => new("hertz", 1, 1),
        "V" => new("volts", 1, 1),
        "A" => new("amperes", 1, 1),
        "J" => new("joules", 1, 1),
        "W" => new("watts", 1, 1),
        "g" => new("grams", 1, 1),
        var other => new(Sanitize(other).Trim('_'), 1, 1),
    };

    /// <summary>
    /// The family name: sanitized instrument name, unit suffix unless already there, and <c>_total</c> for counters.
    /// A gauge whose name would end in <c>_count</c>, <c>_sum</c> or <c>_bucket</c> (suffixes reserved for histogram and
    /// summary series, e.g. the runtime's <c>dotnet.assembly.count</c>) gets <c>_current</c> appended.
    /// </summary>
    public static string FamilyName(string instrumentName, string unitSuffix, bool isCounter, bool isHistogram = false)
    {
        var name = Sanitize(instrumentName).TrimEnd('_');
        if (isCounter && name.EndsWith("_total", StringComparison.Ordinal))
        {
            name = name[..^"_total".Length];
        }

        if (unitSuffix.Length > 0 && !name.EndsWith("_" + unitSuffix, StringComparison.Ordinal) && name != unitSuffix)
        {
            name += "_" + unitSuffix;
        }

        if (isCounter)
        {
            return name + "_total";
        }

        if (!isHistogram && (name.EndsWith("_count", StringComparison.Ordinal) || name.EndsWith("_sum", StringComparison.Ordinal) || name.EndsWith("_bucket", StringComparison.Ordinal)))
        {
            return name + "_current";
        }

        return name;
    }

    /// <summary>HELP text escaping: backslash and line feed.</summary>
    public static void AppendEscapedHelp(StringBuilder builder, string text)
    {
        foreach (var c in text)
        {
            switch (c)
            {
                case '\\':
                    builder.Append(@"\\");
                    break;
                case '\n':
                    builder.Append(@"\n");
                    break;
                default:
                    builder.Append(c);
                    break;
            }
        }
    }

    /// <summary>Label value escaping: backslash, double quote and line feed.</summary>
    public static void AppendEscapedLabelValue(StringBuilder builder, string text)
    {
        foreach (var c in text)
        {
            switch (c)
            {
                case '\\':
                    builder.Append(@"\\");
                    break;
                case '"':
                    builder.Append("\\\"");
                    break;
                case '\n':
                    builder.Append(@"\n");
                    break;
                default:
                    builder.Append(c);
                    break;
            }
        }
    }

    /// <summary>A tag value as label text (invariant culture; booleans lower case).</summary>
    public static string LabelValue(object? value) => value switch
    {
        null => "",
        string s => s,
        bool b => b ? "true" : "false",
        double d => FormatDouble(d),
        float f => FormatDouble(f),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>A sample value: shortest round-trip form, <c>+Inf</c>, <c>-Inf</c>, <c>NaN</c>.</summary>
    public static string FormatDouble(double value)
    {
        if (double.IsNaN(value))
        {
            return "NaN";
        }

        if (double.IsPositiveInfinity(value))
        {
            return "+Inf";
        }

        if (double.IsNegativeInfinity(value))
        {
            return "-Inf";
        }

        return value.ToString("R", CultureInfo.InvariantCulture);
    }
}
