using AdCtr.Learning.Features;
using AdCtr.Learning.Ftrl;

namespace AdCtr.Simulator.Compare;

/// <summary>
/// Settings of one comparison. Times are hours on the stream's clock: the example timestamps (hour 0 = the
/// first example's timestamp floored to the hour), or for logs without timestamps (Criteo) the row index
/// divided by <see cref="RowsPerHour"/>.
/// </summary>
public sealed class CompareSettings
{
    public required FeatureSpec Spec { get; init; }

    public required IReadOnlyList<StrategySpec> Strategies { get; init; }

    /// <summary>
    /// W: the batch training window, in hours. The first W hours are the warm-up: the online strategies learn
    /// from them, the batch and frozen strategies train on them at their end, and no strategy is scored on
    /// them. Afterwards a batch retrain at time t uses the examples of [t - W, t).
    /// </summary>
    public double TrainWindowHours { get; init; } = 24;

    /// <summary>Length of the scoring windows of the CSV and the NE chart, in hours.</summary>
    public double EvalWindowHours { get; init; } = 1;

    /// <summary>Length of the windows of the Markdown table, in hours (one row per window and strategy).</summary>
    public double TableWindowHours { get; init; } = 24;

    /// <summary>Rows per hour of the row-index clock, for logs without timestamps.</summary>
    public double RowsPerHour { get; init; } = 100_000;

    /// <summary>FTRL-Proximal of the online model's global part and of the batch+online correction.</summary>
    public FtrlParameters Global { get; init; } = FtrlParameters.GlobalDefault;

    /// <summary>FTRL-Proximal of the online model's campaign parts.</summary>
    public FtrlParameters Campaign { get; init; } = FtrlParameters.CampaignDefault;

    /// <summary>Probability that a new campaign coordinate is admitted (the server's AdCtr:Model:CampaignAdmission).</summary>
    public double CampaignAdmission { get; init; } = 1.0;

    /// <summary>L2 of the batch logistic regression (on the summed, not averaged, loss).</summary>
    public double BatchL2 { get; init; } = 50.0;

    public int BatchMaxIterations { get; init; } = 100;

    /// <summary>Threads that run the strategies side by side over each block of examples.</summary>
    public int Threads { get; init; } = 2;

    /// <summary>Examples encoded per block (the unit of work handed to the strategies).</summary>
    public int BlockSize { get; init; } = 8192;

    public void Validate()
    {
        Spec.Validate();
        Global.Validate();
        Campaign.Validate();
        if (Strategies.Count == 0)
        {
            throw new ArgumentException("at least one strategy is needed");
        }

        Positive(TrainWindowHours, "--window-hours");
        Positive(EvalWindowHours, "--eval-window");
        Positive(TableWindowHours, "--table-window");
        Positive(RowsPerHour, "--rows-per-hour");
        if (!(BatchL2 >= 0) || !double.IsFinite(BatchL2))
        {
            throw new ArgumentOutOfRangeException(nameof(BatchL2), "--batch-l2 must be finite and >= 0");
        }

        if (BatchMaxIterations < 1 || Threads < 1 || BlockSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Threads), "--batch-iterations and --threads must be >= 1");
        }
    }

    private static void Positive(double value, string name)
    {
        if (!(value > 0) || !double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(name, name + " must be a positive number");
        }
    }
}
