using AdCtr.Server.Model;

namespace AdCtr.Server.ConsolePage;

/// <summary>How <c>GET /v1/campaigns</c> orders campaigns.</summary>
internal enum CampaignSort
{
    /// <summary>By campaign id (ordinal), the default.</summary>
    Id,

    /// <summary>Most examples first (then most clicks, then id).</summary>
    Examples,

    /// <summary>Most clicks first (then most examples, then id).</summary>
    Clicks,
}

/// <summary>
/// Ranks every campaign by its traffic without activating any grain: active campaigns are read through an
/// interleaving read, deactivated ones from the state store (as <see cref="CtrEngine.GlobalStatistics"/> does).
/// O(campaigns) per call; the page the caller asks for is bounded by the API's page size.
/// </summary>
internal static class CampaignRanking
{
    public static bool TryParse(string? text, out CampaignSort sort)
    {
        switch (text)
        {
            case null or "" or "id":
                sort = CampaignSort.Id;
                return true;
            case "examples":
                sort = CampaignSort.Examples;
                return true;
            case "clicks":
                sort = CampaignSort.Clicks;
                return true;
            default:
                sort = CampaignSort.Id;
                return false;
        }
    }

    /// <summary>Every campaign's summary, sorted by <paramref name="sort"/> (a campaign being (de)activated meanwhile may be missed once).</summary>
    public static List<CampaignSummary> Ranked(CtrEngine engine, CampaignSort sort)
    {
        var all = new List<CampaignSummary>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in engine.CampaignIds())
        {
            var grain = engine.Runtime.GetGrain<CampaignGrain>(id);
            if (grain.IsActive && seen.Add(id))
            {
                all.Add(grain.Read(0, static (g, _) => CampaignSummary.Of(g.GetPrimaryKeyString(), g.Model, g.Statistics)));
            }
        }

        foreach (var state in engine.Store.Entries())
        {
            if (state.Model is not null && seen.Add(state.Id))
            {
                all.Add(CampaignSummary.Of(state.Id, state.Model, state.Stats));
            }
        }

        all.Sort(sort switch
        {
            CampaignSort.Examples => static (a, b) => Compare(b.Examples, a.Examples, b.Clicks, a.Clicks, a, b),
            CampaignSort.Clicks => static (a, b) => Compare(b.Clicks, a.Clicks, b.Examples, a.Examples, a, b),
            _ => static (a, b) => string.CompareOrdinal(a.CampaignId, b.CampaignId),
        });
        return all;
    }

    private static int Compare<T1, T2>(T1 first, T1 firstOther, T2 second, T2 secondOther, CampaignSummary a, CampaignSummary b)
        where T1 : IComparable<T1>
        where T2 : IComparable<T2>
    {
        var c = first.CompareTo(firstOther);
        if (c == 0)
        {
            c = second.CompareTo(secondOther);
        }

        return c != 0 ? c : string.CompareOrdinal(a.CampaignId, b.CampaignId);
    }
}
