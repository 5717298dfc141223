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
/// O(campaigns) per call, like <c>GET /v1/models</c>; only the page the caller asks for (at most the API's page
/// size) is summarised.
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

    /// <summary>
    /// The campaigns at ranks [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="limit"/>) by
    /// <paramref name="sort"/>, and how many were ranked. Only the page's campaigns are summarised; a campaign being
    /// (de)activated meanwhile may be missed once.
    /// </summary>
    public static async ValueTask<(int Total, List<CampaignSummary> Page)> PageAsync(CtrEngine engine, CampaignSort sort, int offset, int limit)
    {
        var all = new List<Traffic>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in engine.CampaignIds())
        {
            var grain = engine.Runtime.GetGrain<CampaignGrain>(id);
            if (grain.IsActive && seen.Add(id))
            {
                all.Add(grain.Read(id, static (g, key) =>
                {
                    var s = g.Statistics;
                    return new Traffic(key, s.Examples, s.Clicks, null);
                }));
            }
        }

        foreach (var state in engine.Store.Entries())
        {
            if (state.Model is not null && seen.Add(state.Id))
            {
                all.Add(new Traffic(state.Id, state.Stats.Examples, state.Stats.Clicks, CampaignSummary.Of(state.Id, state.Model, state.Stats)));
            }
        }

        all.Sort(sort switch
        {
            CampaignSort.Examples => static (a, b) => Compare(b.Examples, a.Examples, b.Clicks, a.Clicks, a, b),
            CampaignSort.Clicks => static (a, b) => Compare(b.Clicks, a.Clicks, b.Examples, a.Examples, a, b),
            _ => static (a, b) => string.CompareOrdinal(a.Id, b.Id),
        });
        var page = new List<CampaignSummary>();
        for (var i = offset; i < Math.Min(all.Count, (long)offset + limit); i++)
        {
            // Stored campaigns were decoded above; active ones are summarised now (a grain deactivated since is
            // reactivated, as GET /v1/campaigns/{id} would: at most one page of them).
            if ((all[i].Stored ?? await engine.GetCampaignAsync(all[i].Id).ConfigureAwait(false)) is { } summary)
            {
                page.Add(summary);
            }
        }

        return (all.Count, page);
    }

    private static int Compare<T1, T2>(T1 first, T1 firstOther, T2 second, T2 secondOther, Traffic a, Traffic b)
        where T1 : IComparable<T1>
        where T2 : IComparable<T2>
    {
        var c = first.CompareTo(firstOther);
        if (c == 0)
        {
            c = second.CompareTo(secondOther);
        }

        return c != 0 ? c : string.CompareOrdinal(a.Id, b.Id);
    }

    private readonly record struct Traffic(string Id, long Examples, double Clicks, CampaignSummary? Stored);
}
