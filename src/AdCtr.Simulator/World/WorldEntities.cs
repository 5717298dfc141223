namespace AdCtr.Simulator.World;

/// <summary>The fixed vocabularies of the simulated world (the values written in the output records).</summary>
public static class WorldVocabulary
{
    public static readonly string[] AgeBands = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"];

    /// <summary>Population share of each age band.</summary>
    public static readonly double[] AgeWeights = [0.13, 0.25, 0.22, 0.18, 0.12, 0.10];

    public static readonly string[] Genders = ["f", "m", "u"];

    public static readonly double[] GenderWeights = [0.48, 0.48, 0.04];

    public static readonly string[] Devices = ["mobile", "desktop", "tablet"];

    public static readonly double[] DeviceWeights = [0.6, 0.3, 0.1];

    public static readonly string[] Interests =
        ["sports", "tech", "travel", "fashion", "food", "gaming", "finance", "music", "news", "auto", "parenting", "fitness"];

    public static readonly string[] Categories =
        ["shoes", "electronics", "travel", "finance", "games", "groceries", "apparel", "cars", "home", "health", "education", "streaming"];

    /// <summary>"0".."23": the <c>hour</c> field (UTC hour of the request).</summary>
    public static readonly string[] Hours = Numbers(0, 24);

    /// <summary>"1".."7": the <c>weekday</c> field, ISO 8601 numbering (1 = Monday, 7 = Sunday).</summary>
    public static readonly string[] Weekdays = Numbers(1, 7);

    /// <summary>ISO weekday 1..7 (Monday = 1) of a date.</summary>
    public static int IsoWeekday(DateTime time) => time.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)time.DayOfWeek;

    internal static string[] Numbers(int first, int count)
    {
        var result = new string[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = (first + i).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return result;
    }
}

/// <summary>An advertiser (the <c>advertiserId</c> field, "adv3").</summary>
public sealed class Advertiser(int index, int primaryCategory)
{
    public int Index { get; } = index;

    public string Id { get; } = "adv" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Index into <see cref="WorldVocabulary.Categories"/> most of its campaigns use.</summary>
    public int PrimaryCategory { get; } = primaryCategory;
}

/// <summary>A campaign (the <c>campaignId</c> field, "c17"), active in [Start, End).</summary>
public sealed class Campaign
{
    internal Campaign(int index, int advertiserIndex, int category, double bid, double dailyBudget, DateTime start, DateTime end, double effect, int firstAd, int adCount)
    {
        Index = index;
        Id = "c" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);
        AdvertiserIndex = advertiserIndex;
        Category = category;
        Bid = bid;
        DailyBudget = dailyBudget;
        Start = start;
        End = end;
        Effect = effect;
        FirstAd = firstAd;
        AdCount = adCount;
    }

    public int Index { get; }

    public string Id { get; }

    public int AdvertiserIndex { get; }

    /// <summary>Index into <see cref="WorldVocabulary.Categories"/>.</summary>
    public int Category { get; }

    /// <summary>Cost per click.</summary>
    public double Bid { get; }

    /// <summary>Spend per simulated day (clicks times bid) after which the campaign pauses until the next day;
    /// <see cref="double.PositiveInfinity"/> = unlimited.</summary>
    public double DailyBudget { get; }

    public DateTime Start { get; }

    /// <summary>Exclusive end; <see cref="DateTime.MaxValue"/> = runs for ever.</summary>
    public DateTime End { get; }

    /// <summary>The campaign's own logit effect in the true model.</summary>
    public double Effect { get; }

    /// <summary>Index of its first ad in <see cref="AdWorld.Ads"/>; its ads are contiguous.</summary>
    public int FirstAd { get; }

    public int AdCount { get; }

    /// <summary>Whether the campaign runs at <paramref name="time"/>.</summary>
    public bool IsLive(DateTime time) => time >= Start && time < End;
}

/// <summary>An ad (creative) of a campaign (the <c>adId</c> field, "c17-a2").</summary>
public sealed class Ad(int index, Campaign campaign, int number, double effect)
{
    public int Index { get; } = index;

    public string Id { get; } = campaign.Id + "-a" + number.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public int CampaignIndex { get; } = campaign.Index;

    /// <summary>The ad's own logit effect on top of its campaign's.</summary>
    public double Effect { get; } = effect;
}

/// <summary>A user: indices into the vocabularies (region into <see cref="AdWorld.Regions"/>).</summary>
public readonly record struct SimUser(int Index, byte AgeBand, byte Gender, int Region, byte Device, byte Interest);

/// <summary>A site or app where ads are shown (the <c>site</c> field: "s12" for sites, "app3" for apps).</summary>
public sealed class Site(int index, bool isApp, int kindNumber)
{
    public int Index { get; } = index;

    public bool IsApp { get; } = isApp;

    public string Id { get; } = (isApp ? "app" : "s") + kindNumber.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
