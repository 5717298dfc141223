using Microsoft.Extensions.Options;

namespace AdCtr.Server.Telemetry;

/// <summary>Metrics settings (section <c>AdCtr:Metrics</c>).</summary>
public sealed class MetricsOptions
{
    public const string SectionName = "AdCtr:Metrics";

    /// <summary>Length of the sliding window of the progressive figures (<c>adctr_progressive_window_*</c>). Default 10 minutes.</summary>
    public TimeSpan ProgressiveWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Width of one time bucket of that window (an example counts at most this late). Default 10 seconds.</summary>
    public TimeSpan ProgressiveBucket { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Buckets in the window.</summary>
    public int Buckets => (int)(ProgressiveWindow.Ticks / ProgressiveBucket.Ticks);
}

internal sealed class MetricsOptionsValidator : IValidateOptions<MetricsOptions>
{
    public ValidateOptionsResult Validate(string? name, MetricsOptions options)
    {
        if (options.ProgressiveBucket <= TimeSpan.Zero || options.ProgressiveWindow < options.ProgressiveBucket)
        {
            return ValidateOptionsResult.Fail("AdCtr:Metrics: ProgressiveBucket must be positive and at most ProgressiveWindow");
        }

        if (options.ProgressiveWindow.Ticks % options.ProgressiveBucket.Ticks != 0 || options.Buckets > 100_000)
        {
            return ValidateOptionsResult.Fail("AdCtr:Metrics: ProgressiveWindow must be a whole number (at most 100,000) of ProgressiveBucket");
        }

        return ValidateOptionsResult.Success;
    }
}
