using System.Text.Json.Serialization;

namespace AdCtr.Simulator.World;

/// <summary>
/// One simulator scenario, as read from <c>config/scenarios/NAME.json</c> (camelCase keys, unknown keys rejected).
/// Every value has a documented default, so a scenario file lists only what it changes. <see cref="Validate"/>
/// checks ranges and throws a <see cref="ScenarioException"/> naming the offending key.
/// </summary>
public sealed class ScenarioDefinition
{
    /// <summary>Scenario name; defaults to the file name without extension.</summary>
    public string Name { get; set; } = "";

    public string? Description { get; set; }

    /// <summary>Simulated time of the first request (UTC).</summary>
    public DateTime Start { get; set; } = new(2026, 1, 5, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>Length of simulated time; the request stream ends there.</summary>
    public double DurationDays { get; set; } = 14;

    public int Advertisers { get; set; } = 20;

    /// <summary>Campaigns live at <see cref="Start"/> (cold start adds more later).</summary>
    public int Campaigns { get; set; } = 100;

    /// <summary>Each campaign has 1..this many ads (creatives).</summary>
    public int MaxAdsPerCampaign { get; set; } = 3;

    public int Users { get; set; } = 20000;

    /// <summary>Sites and apps where ads are shown (the <c>site</c> field).</summary>
    public int Sites { get; set; } = 40;

    /// <summary>Fraction of <see cref="Sites"/> that are apps rather than web sites.</summary>
    public double AppFraction { get; set; } = 0.3;

    public int Regions { get; set; } = 8;

    /// <summary>Ad slot positions 1..this on a page.</summary>
    public int Positions { get; set; } = 4;

    public int CandidatesPerRequest { get; set; } = 5;

    public ArrivalDefinition Arrivals { get; set; } = new();

    public RangeDefinition Bid { get; set; } = new() { Min = 0.2, Max = 2.0 };

    /// <summary>Daily budget per campaign, spent by cost-per-click bids; null = unlimited.</summary>
    public RangeDefinition? DailyBudget { get; set; }

    public EffectDefinition Effects { get; set; } = new();

    /// <summary>Random walk on the interaction effects; null = none.</summary>
    public DriftDefinition? Drift { get; set; }

    /// <summary>An abrupt change at a known time; null = none.</summary>
    public ShockDefinition? Shock { get; set; }

    /// <summary>Campaigns launching after the start; null = the initial campaigns run for ever.</summary>
    public ColdStartDefinition? ColdStart { get; set; }

    /// <summary>Delay between impression and click; null = clicks are immediate and no delay is written.</summary>
    public ClickDelayDefinition? ClickDelay { get; set; }

    /// <summary>Fraction of negatives kept in generated logs (kept ones are written with weight 1/r); 1 = all.</summary>
    public double NegativeDownsampling { get; set; } = 1.0;

    /// <summary>Throws a <see cref="ScenarioException"/> naming the first bad value.</summary>
    public void Validate()
    {
        Check(Start.Kind == DateTimeKind.Utc, "start", "must be a UTC time ending in 'Z'", Start.ToString("O"));
        Check(DurationDays is > 0 and <= 3650, "durationDays", "must be in (0, 3650]", DurationDays);
        Check(Advertisers is >= 1 and <= 100_000, "advertisers", "must be in [1, 100000]", Advertisers);
        Check(Campaigns is >= 0 and <= 100_000, "campaigns", "must be in [0, 100000]", Campaigns);
        Check(Campaigns > 0 || ColdStart is not null, "campaigns", "must be >= 1 unless coldStart launches campaigns", Campaigns);
        Check(MaxAdsPerCampaign is >= 1 and <= 100, "maxAdsPerCampaign", "must be in [1, 100]", MaxAdsPerCampaign);
        Check(Users is >= 1 and <= 10_000_000, "users", "must be in [1, 10000000]", Users);
        Check(Sites is >= 1 and <= 100_000, "sites", "must be in [1, 100000]", Sites);
        Check(AppFraction is >= 0 and <= 1, "appFraction", "must be in [0, 1]", AppFraction);
        Check(Regions is >= 1 and <= 10_000, "regions", "must be in [1, 10000]", Regions);
        Check(Positions is >= 1 and <= 100, "positions", "must be in [1, 100]", Positions);
        Check(CandidatesPerRequest is >= 1 and <= 1000, "candidatesPerRequest", "must be in [1, 1000]", CandidatesPerRequest);

        Check(Arrivals.RequestsPerHour is > 0 and <= 1e9, "arrivals.requestsPerHour", "must be in (0, 1e9]", Arrivals.RequestsPerHour);
        Check(Arrivals.DailyAmplitude is >= 0 and <= 0.95, "arrivals.dailyAmplitude", "must be in [0, 0.95]", Arrivals.DailyAmplitude);
        Check(Arrivals.PeakHour is >= 0 and < 24, "arrivals.peakHour", "must be in [0, 24)", Arrivals.PeakHour);
        if (Arrivals.HourlyWeights is { } weights)
        {
            Check(weights.Length == 24, "arrivals.hourlyWeights", "must have 24 entries", weights.Length);
            var max = 0.0;
            var sum = 0.0;
            foreach (var w in weights)
            {
                Check(w >= 0 && double.IsFinite(w), "arrivals.hourlyWeights", "entries must be finite and >= 0", w);
                max = Math.Max(max, w);
                sum += w;
            }

            // Thinning accepts with probability weight/max; a floor keeps the rejection loop short.
            Check(sum > 0, "arrivals.hourlyWeights", "must not be all zero", sum);
            Check(sum / 24 >= max / 20, "arrivals.hourlyWeights", "mean must be at least 1/20 of the maximum", sum / 24);
        }

        CheckRange(Bid, "bid", 1e-6);
        if (DailyBudget is { } budget)
        {
            CheckRange(budget, "dailyBudget", 1e-6);
        }

        Check(double.IsFinite(Effects.BaseLogit) && Math.Abs(Effects.BaseLogit) <= 20, "effects.baseLogit", "must be in [-20, 20]", Effects.BaseLogit);
        CheckSd(Effects.MainSd, "effects.mainSd");
        CheckSd(Effects.TimeSd, "effects.timeSd");
        CheckSd(Effects.PositionDecay, "effects.positionDecay");
        CheckSd(Effects.CampaignSd, "effects.campaignSd");
        CheckSd(Effects.AdSd, "effects.adSd");
        CheckSd(Effects.AgeCategorySd, "effects.ageCategorySd");
        CheckSd(Effects.InterestCategorySd, "effects.interestCategorySd");
        CheckSd(Effects.SiteCategorySd, "effects.siteCategorySd");
        CheckSd(Effects.DeviceHourSd, "effects.deviceHourSd");

        if (Drift is { } drift)
        {
            CheckSd(drift.SdPerDay, "drift.sdPerDay");
        }

        if (Shock is { } shock)
        {
            Check(shock.At.Kind == DateTimeKind.Utc, "shock.at", "must be a UTC time ending in 'Z'", shock.At.ToString("O"));
            Check(shock.At > Start && shock.At < Start.AddDays(DurationDays), "shock.at", "must lie inside (start, start + durationDays)", shock.At.ToString("O"));
            Check(double.IsFinite(shock.LogitShift) && Math.Abs(shock.LogitShift) <= 10, "shock.logitShift", "must be in [-10, 10]", shock.LogitShift);
            CheckSd(shock.InteractionSd, "shock.interactionSd");
            Check(shock.DurationHours is >= 0 and <= 87600, "shock.durationHours", "must be in [0, 87600] (0 = permanent)", shock.DurationHours);
        }

        if (ColdStart is { } cold)
        {
            Check(cold.LaunchesPerDay is >= 0 and <= 500, "coldStart.launchesPerDay", "must be in [0, 500]", cold.LaunchesPerDay);
            Check(cold.LifetimeDays is > 0 and <= 3650, "coldStart.lifetimeDays", "must be in (0, 3650]", cold.LifetimeDays);
            Check(cold.LaunchesPerDay * DurationDays <= 100_000, "coldStart.launchesPerDay", "times durationDays must be at most 100000 campaigns", cold.LaunchesPerDay * DurationDays);
            Check(cold.NewAdvertiserProbability is >= 0 and <= 1, "coldStart.newAdvertiserProbability", "must be in [0, 1]", cold.NewAdvertiserProbability);
        }

        if (ClickDelay is { } delay)
        {
            switch (delay.Distribution)
            {
                case ClickDelayDefinition.LogNormal:
                    Check(double.IsFinite(delay.Mu) && Math.Abs(delay.Mu) <= 30, "clickDelay.mu", "must be in [-30, 30]", delay.Mu);
                    Check(delay.Sigma is > 0 and <= 10, "clickDelay.sigma", "must be in (0, 10]", delay.Sigma);
                    break;
                case ClickDelayDefinition.Pareto:
                    Check(delay.ScaleSeconds is > 0 and <= 1e9, "clickDelay.scaleSeconds", "must be in (0, 1e9]", delay.ScaleSeconds);
                    Check(delay.Shape is > 0 and <= 100, "clickDelay.shape", "must be in (0, 100]", delay.Shape);
                    break;
                case ClickDelayDefinition.Exponential:
                    Check(delay.MeanSeconds is > 0 and <= 1e9, "clickDelay.meanSeconds", "must be in (0, 1e9]", delay.MeanSeconds);
                    break;
                default:
                    Fail("clickDelay.distribution", "must be one of lognormal, pareto, exponential", delay.Distribution);
                    break;
            }

            Check(delay.AttributionWindowSeconds is > 0 and <= 1e9, "clickDelay.attributionWindowSeconds", "must be in (0, 1e9]", delay.AttributionWindowSeconds);
        }

        Check(NegativeDownsampling is > 0 and <= 1, "negativeDownsampling", "must be in (0, 1]", NegativeDownsampling);
    }

    private void CheckRange(RangeDefinition range, string key, double floor)
    {
        Check(double.IsFinite(range.Min) && range.Min >= floor, key + ".min", "must be a positive number", range.Min);
        Check(double.IsFinite(range.Max) && range.Max >= range.Min, key + ".max", "must be >= " + key + ".min", range.Max);
    }

    private void CheckSd(double value, string key) =>
        Check(double.IsFinite(value) && value is >= 0 and <= 10, key, "must be in [0, 10]", value);

    private void Check(bool ok, string key, string rule, object? value)
    {
        if (!ok)
        {
            Fail(key, rule, value);
        }
    }

    private void Fail(string key, string rule, object? value) =>
        throw new ScenarioException(string.Format(
            System.Globalization.CultureInfo.InvariantCulture, "scenario '{0}': {1} {2} (got {3})", Name, key, rule, value ?? "null"));
}

/// <summary>Request arrivals: a Poisson process whose rate follows a daily cycle.</summary>
public sealed class ArrivalDefinition
{
    /// <summary>Mean requests per simulated hour, averaged over a day.</summary>
    public double RequestsPerHour { get; set; } = 10_000;

    /// <summary>Sinusoidal cycle: rate = mean * (1 + amplitude * cos(2 pi (hour - peakHour) / 24)).</summary>
    public double DailyAmplitude { get; set; } = 0.5;

    /// <summary>UTC hour of the daily peak (fractional hours allowed).</summary>
    public double PeakHour { get; set; } = 20;

    /// <summary>Optional table of 24 relative weights per UTC hour; replaces the sinusoid when present.</summary>
    public double[]? HourlyWeights { get; set; }
}

/// <summary>A uniform range [min, max].</summary>
public sealed class RangeDefinition
{
    public double Min { get; set; }

    public double Max { get; set; }
}

/// <summary>
/// Scales of the true click model. Every effect is drawn once per world from a normal with mean 0 and the given
/// standard deviation (logit units); see <see cref="AdWorld.TrueLogit"/> for the sum they enter.
/// </summary>
public sealed class EffectDefinition
{
    /// <summary>Logit of the base rate before any effect.</summary>
    public double BaseLogit { get; set; } = -4.0;

    /// <summary>Main effects of user and site fields and of the ad category.</summary>
    public double MainSd { get; set; } = 0.2;

    /// <summary>Main effects of the hour of day and the weekday (the daily and weekly rhythm of click rates).</summary>
    public double TimeSd { get; set; } = 0.2;

    /// <summary>Logit lost per slot below the first: effect(position p) = -positionDecay * (p - 1).</summary>
    public double PositionDecay { get; set; } = 0.25;

    public double CampaignSd { get; set; } = 0.4;

    public double AdSd { get; set; } = 0.1;

    /// <summary>user_age x ad_category.</summary>
    public double AgeCategorySd { get; set; } = 0.5;

    /// <summary>interest x ad_category.</summary>
    public double InterestCategorySd { get; set; } = 0.6;

    /// <summary>site x ad_category (context x ad).</summary>
    public double SiteCategorySd { get; set; } = 0.4;

    /// <summary>device x hour.</summary>
    public double DeviceHourSd { get; set; } = 0.3;
}

/// <summary>Gradual change: every interaction effect follows a Gaussian random walk, one step per simulated day,
/// linearly interpolated within the day.</summary>
public sealed class DriftDefinition
{
    public double SdPerDay { get; set; } = 0.15;
}

/// <summary>An abrupt change (e.g. a holiday) at a known time.</summary>
public sealed class ShockDefinition
{
    public DateTime At { get; set; }

    /// <summary>Added to the base logit while the shock lasts.</summary>
    public double LogitShift { get; set; } = 0.7;

    /// <summary>Standard deviation of a fresh perturbation added to interest x ad_category while the shock lasts.</summary>
    public double InteractionSd { get; set; } = 0.5;

    /// <summary>How long the shock lasts; 0 = for ever.</summary>
    public double DurationHours { get; set; }
}

/// <summary>New campaigns keep launching (a Poisson process) and each lives a limited time.</summary>
public sealed class ColdStartDefinition
{
    public double LaunchesPerDay { get; set; } = 20;

    /// <summary>Mean campaign lifetime; each lifetime is uniform in [0.5, 1.5] times this. Initial campaigns
    /// are already part-way through theirs.</summary>
    public double LifetimeDays { get; set; } = 5;

    /// <summary>Probability that a launched campaign belongs to a brand-new advertiser.</summary>
    public double NewAdvertiserProbability { get; set; } = 0.2;
}

/// <summary>Delay between an impression and its click.</summary>
public sealed class ClickDelayDefinition
{
    public const string LogNormal = "lognormal";
    public const string Pareto = "pareto";
    public const string Exponential = "exponential";

    /// <summary><c>lognormal</c> (mu, sigma of ln seconds), <c>pareto</c> (scaleSeconds, shape: P(D &gt; d) = (scale/d)^shape
    /// for d &gt;= scale) or <c>exponential</c> (meanSeconds).</summary>
    public string Distribution { get; set; } = LogNormal;

    public double Mu { get; set; } = 4.0;

    public double Sigma { get; set; } = 1.5;

    public double ScaleSeconds { get; set; } = 30;

    public double Shape { get; set; } = 1.0;

    public double MeanSeconds { get; set; } = 60;

    /// <summary>The attribution window a joiner would use; delays beyond it are clicks a joiner misses.</summary>
    public double AttributionWindowSeconds { get; set; } = 900;
}

/// <summary>A scenario that cannot be found or has a bad value; the message is one line meant for the user.</summary>
public sealed class ScenarioException : Exception
{
    public ScenarioException(string message)
        : base(message)
    {
    }

    public ScenarioException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public ScenarioException()
    {
    }
}

/// <summary>Source-generated JSON metadata for scenario files.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(ScenarioDefinition))]
internal sealed partial class ScenarioJsonContext : JsonSerializerContext;
