using System.ComponentModel.DataAnnotations;

namespace AdCtr.Server.Joiner;

/// <summary>The impression/click joiner (section <c>AdCtr:Joiner</c>).</summary>
public sealed class JoinerOptions
{
    public const string SectionName = "AdCtr:Joiner";

    /// <summary>Policy name: a click within the window is a positive, an impression whose window expires unclicked a negative.</summary>
    public const string WaitPolicy = "wait";

    /// <summary>Policy name: every impression is learned at once as a negative, a later click as a positive (Ktena et al. 2019, FNW).</summary>
    public const string FakeNegativePolicy = "fake-negative";

    /// <summary>False: served predictions are not remembered and <c>/v1/events</c> is not mapped. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary><c>wait</c> (default) or <c>fake-negative</c>.</summary>
    [Required]
    [RegularExpression("^(wait|fake-negative)$", ErrorMessage = "AdCtr:Joiner:Policy must be 'wait' or 'fake-negative'")]
    public string Policy { get; set; } = WaitPolicy;

    /// <summary>How long after serving a prediction its impression and click are accepted. Default 15 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "7.00:00:00")]
    public TimeSpan AttributionWindow { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Most served predictions remembered at once; when full, the oldest expire early (counted). Default 1,000,000.</summary>
    [Range(16, 100_000_000)]
    public int MaxPending { get; set; } = 1_000_000;

    /// <summary>How often expired impressions are turned into negatives. Default 1 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// With negative downsampling (<c>AdCtr:Model:NegativeDownsampling</c> = r &lt; 1): true (default) trains each
    /// kept negative with importance weight 1/r, so the model stays unbiased and predictions need no correction;
    /// false trains them with weight 1 and corrects every prediction with q = p / (p + (1 - p) / r) (He et al. 2014).
    /// </summary>
    public bool WeightNegatives { get; set; } = true;

    public bool IsFakeNegative => Policy == FakeNegativePolicy;
}
