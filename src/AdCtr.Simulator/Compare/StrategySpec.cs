using System.Globalization;

namespace AdCtr.Simulator.Compare;

/// <summary>The kinds of model maintenance compared by <c>adctr-sim compare</c>.</summary>
public enum StrategyKind
{
    /// <summary>FTRL-Proximal GLMix model learning every example as it arrives.</summary>
    Online,

    /// <summary>ML.NET's L-BFGS logistic regression retrained from scratch every T hours on the last W hours, frozen in between.</summary>
    Batch,

    /// <summary>
    /// The same retrains, warm-started from the current model, plus an online FTRL-Proximal correction learned
    /// on top of the frozen batch logit between retrains.
    /// </summary>
    BatchOnline,

    /// <summary>L-BFGS trained once on the first W hours, never updated.</summary>
    Frozen,

    /// <summary>ML.NET's FieldAwareFactorizationMachine retrained every T hours on the last W hours.</summary>
    BatchFfm,

    /// <summary>
    /// He et al. 2014: ML.NET FastTree retrained every T hours on the last W hours, its leaves features of the online
    /// GLMix model, which learns every example.
    /// </summary>
    TreesOnline,
}

/// <summary>One strategy of the comparison: <c>online</c>, <c>batch:T</c>, <c>batch:T+online</c> or <c>frozen</c>.</summary>
/// <param name="Name">The canonical name, as written in reports.</param>
/// <param name="Kind">What the strategy does.</param>
/// <param name="RetrainHours">T for the batch kinds (hours between retrains); 0 otherwise.</param>
public readonly record struct StrategySpec(string Name, StrategyKind Kind, double RetrainHours)
{
    /// <summary>The default list of <c>--strategies</c>.</summary>
    public const string DefaultList = "online,batch:24,batch:24+online,trees:24+online,frozen";

    /// <summary>Every kind of strategy, as run for the committed reports.</summary>
    public const string AllList = "online,batch:24,batch:24:ffm,batch:24+online,trees:24+online,frozen";

    /// <summary>Parses one strategy name; false (with a one-line reason) when it is not one of the four forms.</summary>
    public static bool TryParse(string text, out StrategySpec spec, out string error)
    {
        spec = default;
        error = string.Empty;
        var s = text.Trim();
        switch (s)
        {
            case "online":
                spec = new StrategySpec("online", StrategyKind.Online, 0);
                return true;
            case "frozen":
                spec = new StrategySpec("frozen", StrategyKind.Frozen, 0);
                return true;
        }

        if (s.StartsWith("trees:", StringComparison.Ordinal) && s.EndsWith("+online", StringComparison.Ordinal))
        {
            var treeHours = s["trees:".Length..^"+online".Length];
            if (double.TryParse(treeHours, NumberStyles.Float, CultureInfo.InvariantCulture, out var th) && th > 0 && double.IsFinite(th))
            {
                spec = new StrategySpec("trees:" + th.ToString("0.###", CultureInfo.InvariantCulture) + "+online", StrategyKind.TreesOnline, th);
                return true;
            }

            error = "strategy '" + s + "': T must be a positive number of hours (trees:T+online)";
            return false;
        }

        if (s.StartsWith("batch:", StringComparison.Ordinal))
        {
            var rest = s["batch:".Length..];
            StrategyKind? model = null;
            if (rest.EndsWith(":lr", StringComparison.Ordinal))
            {
                // batch:T:lr is batch:T (the ML.NET logistic regression is the batch trainer).
                model = StrategyKind.Batch;
                rest = rest[..^":lr".Length];
            }
            else if (rest.EndsWith(":ffm", StringComparison.Ordinal))
            {
                model = StrategyKind.BatchFfm;
                rest = rest[..^":ffm".Length];
            }

            if (model is { } m)
            {
                if (double.TryParse(rest, NumberStyles.Float, CultureInfo.InvariantCulture, out var mh) && mh > 0 && double.IsFinite(mh))
                {
                    spec = new StrategySpec("batch:" + mh.ToString("0.###", CultureInfo.InvariantCulture) + (m == StrategyKind.BatchFfm ? ":ffm" : string.Empty), m, mh);
                    return true;
                }

                error = "strategy '" + s + "': T must be a positive number of hours (batch:T:lr or batch:T:ffm)";
                return false;
            }

            var online = rest.EndsWith("+online", StringComparison.Ordinal);
            if (online)
            {
                rest = rest[..^"+online".Length];
            }

            if (double.TryParse(rest, NumberStyles.Float, CultureInfo.InvariantCulture, out var hours) && hours > 0 && double.IsFinite(hours))
            {
                var t = hours.ToString("0.###", CultureInfo.InvariantCulture);
                spec = online
                    ? new StrategySpec("batch:" + t + "+online", StrategyKind.BatchOnline, hours)
                    : new StrategySpec("batch:" + t, StrategyKind.Batch, hours);
                return true;
            }

            error = "strategy '" + s + "': T must be a positive number of hours (batch:T, batch:T:lr, batch:T:ffm or batch:T+online)";
            return false;
        }

        error = "unknown strategy '" + s + "' (expected online, batch:T, batch:T:lr, batch:T:ffm, batch:T+online, trees:T+online or frozen)";
        return false;
    }

    /// <summary>Parses a comma-separated list; rejects empty lists and duplicates.</summary>
    public static bool TryParseList(string text, out StrategySpec[] specs, out string error)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        specs = new StrategySpec[parts.Length];
        error = string.Empty;
        if (parts.Length == 0)
        {
            error = "--strategies names no strategy";
            return false;
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < parts.Length; i++)
        {
            if (!TryParse(parts[i], out specs[i], out error))
            {
                return false;
            }

            if (!names.Add(specs[i].Name))
            {
                error = "strategy '" + specs[i].Name + "' is listed twice";
                return false;
            }
        }

        return true;
    }
}
