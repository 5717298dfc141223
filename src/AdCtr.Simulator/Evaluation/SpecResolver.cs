using AdCtr.Learning.Features;
using AdCtr.Learning.Readers;

namespace AdCtr.Simulator.Evaluation;

/// <summary>Finds the feature spec of a log format: an explicit path, or config/features.FORMAT.json.</summary>
internal static class SpecResolver
{
    public static FeatureSpec Resolve(string? path, LogFormat format, int? bits)
    {
        if (format == LogFormat.Csv && path is null)
        {
            throw new FeatureSpecException("--format csv needs --spec FILE: the feature spec plus \"label\" (and optionally \"timestamp\") naming CSV columns");
        }

        path ??= FindDefault(format switch
        {
            LogFormat.Criteo => "features.criteo.json",
            LogFormat.Avazu => "features.avazu.json",
            _ => "features.sim.json",
        });
        var spec = FeatureSpec.Load(path);
        if (bits is { } b)
        {
            if (b is < FeatureSpec.MinBits or > FeatureSpec.MaxBits)
            {
                throw new FeatureSpecException($"--bits must be in {FeatureSpec.MinBits}..{FeatureSpec.MaxBits}, got {b}");
            }

            spec = spec.WithBits(b);
        }

        return spec;
    }

    /// <summary>config/NAME relative to the current directory, then next to the executable.</summary>
    public static string FindDefault(string name)
    {
        var local = Path.Combine("config", name);
        if (File.Exists(local))
        {
            return local;
        }

        var beside = Path.Combine(AppContext.BaseDirectory, "config", name);
        return File.Exists(beside) ? beside : local;
    }

    public static bool TryParseFormat(string text, out LogFormat format)
    {
        switch (text)
        {
            case "criteo":
                format = LogFormat.Criteo;
                return true;
            case "avazu":
                format = LogFormat.Avazu;
                return true;
            case "ndjson":
                format = LogFormat.AdCtrJson;
                return true;
            case "csv":
                format = LogFormat.Csv;
                return true;
            default:
                format = default;
                return false;
        }
    }
}
