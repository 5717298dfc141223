using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using AdCtr.Learning.Ftrl;

namespace AdCtr.Simulator.Evaluation;

/// <summary>The model hyper-parameters of the server's configuration section <c>AdCtr:Model</c>.</summary>
public sealed record ModelSettings(FtrlParameters Global, FtrlParameters Campaign, double CampaignAdmission, int? Bits)
{
    /// <summary>The same values with the global part's alpha, L1 or L2 replaced where given (the older flags).</summary>
    public ModelSettings WithGlobal(double? alpha, double? l1, double? l2) => this with
    {
        Global = Global with { Alpha = alpha ?? Global.Alpha, L1 = l1 ?? Global.L1, L2 = l2 ?? Global.L2 },
    };
}

/// <summary>
/// One source of defaults: <c>eval</c> and <c>compare</c> read the model hyper-parameters from the
/// server's own configuration file (<c>config/appsettings.json</c>, section <c>AdCtr:Model</c>: <c>Global</c> and
/// <c>Campaign</c> with <c>Alpha</c>, <c>Beta</c>, <c>L1</c>, <c>L2</c>; <c>CampaignAdmission</c>; <c>Bits</c>), so an
/// offline evaluation learns with exactly the settings the server would. <c>--config FILE</c> reads another file;
/// <c>--set AdCtr:Model:Global:Alpha=0.1</c> (repeatable) overrides one value, with the key spelled as in the server's
/// configuration (case-insensitive), like the server's own <c>--AdCtr:Model:Global:Alpha=0.1</c> argument.
/// </summary>
public static class ModelConfig
{
    public const string DefaultFile = "appsettings.json";

    /// <summary>Values of the server's ModelOptions when the file has no <c>AdCtr:Model</c> section.</summary>
    public static ModelSettings BuiltIn => new(FtrlParameters.GlobalDefault, FtrlParameters.CampaignDefault, 1.0, null);

    public static Option<string?> ConfigOption() => new("--config")
    {
        Description = "Server configuration whose AdCtr:Model section gives the model hyper-parameters (default config/appsettings.json)",
    };

    public static Option<string[]> SetOption() => new("--set")
    {
        Description = "Override one model setting, e.g. --set AdCtr:Model:Campaign:L2=10 (repeatable)",
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>Reads <paramref name="path"/> (null: config/appsettings.json, found as the specs are) and applies <paramref name="sets"/>.</summary>
    /// <exception cref="ArgumentException">A missing or invalid file, an unknown key, a value that is not a number, or parameters out of range.</exception>
    public static ModelSettings Load(string? path, IReadOnlyList<string>? sets)
    {
        var file = path ?? SpecResolver.FindDefault(DefaultFile);
        var values = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
        if (path is not null || File.Exists(file))
        {
            if (!File.Exists(file))
            {
                throw new ArgumentException("--config: no such file '" + file + "'");
            }

            try
            {
                using var document = JsonDocument.Parse(File.ReadAllBytes(file), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
                if (TryGet(document.RootElement, "AdCtr", out var adctr) && TryGet(adctr, "Model", out var model))
                {
                    Flatten(model, "AdCtr:Model", values);
                }
            }
            catch (JsonException e)
            {
                throw new ArgumentException("--config: '" + file + "' is not valid JSON: " + e.Message, e);
            }
        }

        foreach (var set in sets ?? [])
        {
            var eq = set.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !double.TryParse(set.AsSpan(eq + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
            {
                throw new ArgumentException("--set expects KEY=NUMBER, e.g. AdCtr:Model:Global:Alpha=0.1; got '" + set + "'");
            }

            var key = set[..eq].Trim();
            if (!IsKnown(key))
            {
                throw new ArgumentException("--set: unknown model setting '" + key + "' (known: AdCtr:Model:Global|Campaign:Alpha|Beta|L1|L2, AdCtr:Model:CampaignAdmission, AdCtr:Model:Bits)");
            }

            values[key] = v;
        }

        var builtIn = BuiltIn;
        int? bits = null;
        if (values.TryGetValue("AdCtr:Model:Bits", out var b))
        {
            if (b != Math.Floor(b) || b is < 18 or > 28)
            {
                throw new ArgumentException("AdCtr:Model:Bits must be an integer in 18..28, got " + b.ToString(CultureInfo.InvariantCulture));
            }

            bits = (int)b;
        }

        var settings = new ModelSettings(
            Part(values, "Global", builtIn.Global),
            Part(values, "Campaign", builtIn.Campaign),
            values.GetValueOrDefault("AdCtr:Model:CampaignAdmission", builtIn.CampaignAdmission),
            bits);
        Validate(settings.Global, "AdCtr:Model:Global");
        Validate(settings.Campaign, "AdCtr:Model:Campaign");
        if (!(settings.CampaignAdmission is > 0 and <= 1))
        {
            throw new ArgumentException("AdCtr:Model:CampaignAdmission must be in (0, 1]");
        }

        return settings;
    }

    private static readonly string[] Keys =
    [
        "AdCtr:Model:Global:Alpha", "AdCtr:Model:Global:Beta", "AdCtr:Model:Global:L1", "AdCtr:Model:Global:L2",
        "AdCtr:Model:Campaign:Alpha", "AdCtr:Model:Campaign:Beta", "AdCtr:Model:Campaign:L1", "AdCtr:Model:Campaign:L2",
        "AdCtr:Model:CampaignAdmission", "AdCtr:Model:Bits",
    ];

    private static void Validate(FtrlParameters p, string part)
    {
        try
        {
            p.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            // "AdCtr:Model:Global:Alpha: alpha must be finite and > 0, got -1", one line, no parameter suffix.
            throw new ArgumentException(part + ":" + e.ParamName + ": " + e.Message.Split('(', 2)[0].Trim() + ", got " + Convert.ToString(e.ActualValue, CultureInfo.InvariantCulture), e);
        }
    }

    private static bool IsKnown(string key)
    {
        foreach (var k in Keys)
        {
            if (string.Equals(k, key, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static FtrlParameters Part(Dictionary<string, double> values, string part, FtrlParameters d)
    {
        var prefix = "AdCtr:Model:" + part + ":";
        return new FtrlParameters(
            values.GetValueOrDefault(prefix + "Alpha", d.Alpha),
            values.GetValueOrDefault(prefix + "Beta", d.Beta),
            values.GetValueOrDefault(prefix + "L1", d.L1),
            values.GetValueOrDefault(prefix + "L2", d.L2));
    }

    private static bool TryGet(JsonElement element, string name, out JsonElement value)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
                {
                    value = property.Value;
                    return true;
                }
            }
        }

        value = default;
        return false;
    }

    private static void Flatten(JsonElement element, string prefix, Dictionary<string, double> values)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                Flatten(property.Value, prefix + ":" + property.Name, values);
            }
        }
        else if (element.ValueKind == JsonValueKind.Number && IsKnown(prefix))
        {
            values[prefix] = element.GetDouble();
        }
    }
}
