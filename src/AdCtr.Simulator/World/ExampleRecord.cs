namespace AdCtr.Simulator.World;

/// <summary>
/// The in-memory form of one labeled example line, the project's single example format (the server's
/// <c>POST /v1/examples</c> line and the <c>ndjson</c> log):
/// <code>
/// {"timestamp":"2026-01-05T13:04:05.123Z","label":0,"weight":1,"campaignId":"c17","adId":"c17-a2","advertiserId":"adv3",
///  "context":{"user_age":"25-34","gender":"f","region":"r4","device":"mobile","interest":"sports","site":"s12",
///             "position":"1","hour":"13","weekday":"2"},
///  "features":{"ad_category":"shoes"},"trueCtr":0.0213}
/// </code>
/// <c>context</c> holds user and context fields, <c>features</c> ad-side fields. <c>trueCtr</c> is the simulator's
/// known truth; <c>clickDelaySeconds</c> is written for clicks only when the scenario defines a click delay.
/// All strings are shared with the world's tables: building a record allocates nothing.
/// </summary>
public readonly record struct ExampleRecord
{
    /// <summary>Field names of <see cref="GetContextValue"/>, in writing order.</summary>
    public static readonly string[] ContextFieldNames =
        ["user_age", "gender", "region", "device", "interest", "site", "position", "hour", "weekday"];

    /// <summary>Field names of <see cref="GetFeatureValue"/>, in writing order.</summary>
    public static readonly string[] FeatureFieldNames = ["ad_category"];

    public DateTime Timestamp { get; init; }

    /// <summary>1 = click, 0 = no click.</summary>
    public int Label { get; init; }

    /// <summary>Importance weight (1/r for a negative kept at downsampling rate r).</summary>
    public double Weight { get; init; }

    public string CampaignId { get; init; }

    public string AdId { get; init; }

    public string AdvertiserId { get; init; }

    public string UserAge { get; init; }

    public string Gender { get; init; }

    public string Region { get; init; }

    public string Device { get; init; }

    public string Interest { get; init; }

    public string Site { get; init; }

    public string Position { get; init; }

    public string Hour { get; init; }

    public string Weekday { get; init; }

    public string AdCategory { get; init; }

    /// <summary>The true click probability of this impression.</summary>
    public double TrueCtr { get; init; }

    /// <summary>Seconds from impression to click, for clicks of scenarios with a click delay; otherwise null.</summary>
    public double? ClickDelaySeconds { get; init; }

    /// <summary>The value of context field <paramref name="i"/> (see <see cref="ContextFieldNames"/>).</summary>
    public string GetContextValue(int i) => i switch
    {
        0 => UserAge,
        1 => Gender,
        2 => Region,
        3 => Device,
        4 => Interest,
        5 => Site,
        6 => Position,
        7 => Hour,
        8 => Weekday,
        _ => throw new ArgumentOutOfRangeException(nameof(i)),
    };

    /// <summary>The value of feature field <paramref name="i"/> (see <see cref="FeatureFieldNames"/>).</summary>
    public string GetFeatureValue(int i) => i == 0 ? AdCategory : throw new ArgumentOutOfRangeException(nameof(i));

    /// <summary>The record of an impression with a given importance weight.</summary>
    public static ExampleRecord From(AdWorld world, in SimImpression impression, double weight) =>
        Build(world, impression.Request, impression.AdIndex) with
        {
            Label = impression.Clicked ? 1 : 0,
            Weight = weight,
            TrueCtr = impression.TrueProbability,
            ClickDelaySeconds = impression.Clicked && world.Scenario.ClickDelay is not null ? impression.ClickDelaySeconds : null,
        };

    /// <summary>
    /// The fields of a candidate ad of a request before it is shown (what a predict call sends): label 0, weight
    /// 1, <see cref="TrueCtr"/> the candidate's true click probability.
    /// </summary>
    public static ExampleRecord ForCandidate(AdWorld world, in SimRequest request, int adIndex) =>
        Build(world, request, adIndex) with
        {
            Weight = 1,
            TrueCtr = world.TrueClickProbability(request, adIndex),
        };

    /// <summary>The one mapping from world entities to field values (ids, context, ad category).</summary>
    private static ExampleRecord Build(AdWorld world, in SimRequest request, int adIndex)
    {
        ArgumentNullException.ThrowIfNull(world);
        var ad = world.AdArray[adIndex];
        var campaign = world.CampaignArray[ad.CampaignIndex];
        ref readonly var user = ref world.UserArray[request.UserIndex];
        var context = request.Context;
        return new ExampleRecord
        {
            Timestamp = request.Time,
            CampaignId = campaign.Id,
            AdId = ad.Id,
            AdvertiserId = world.Advertisers[campaign.AdvertiserIndex].Id,
            UserAge = WorldVocabulary.AgeBands[user.AgeBand],
            Gender = WorldVocabulary.Genders[user.Gender],
            Region = world.Regions[user.Region],
            Device = WorldVocabulary.Devices[user.Device],
            Interest = WorldVocabulary.Interests[user.Interest],
            Site = world.Sites[context.SiteIndex].Id,
            Position = world.Positions[context.Position - 1],
            Hour = WorldVocabulary.Hours[context.Hour],
            Weekday = WorldVocabulary.Weekdays[context.Weekday - 1],
            AdCategory = WorldVocabulary.Categories[campaign.Category],
        };
    }
}
