using AdCtr.Grains.Storage;
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
/// Ranks every campaign by its traffic without a grain call: active campaigns from the silo's model view, stored
/// ones from the grain storage's index (which keeps their statistics beside the bytes), as
/// <see cref="CtrEngine.GlobalStatistics"/> does. O(campaigns) per call, like <c>GET /v1/models</c>; only the page
/// the caller asks for (at most the API's page size) is summarised.
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
    /// <paramref name="sort"/>, and how many were ranked. A campaign being (de)activated meanwhile is counted once,
    /// from whichever place had it first.
    /// </summary>
    public static (int Total, List<CampaignSummary> Page) Page(CtrEngine engine, CampaignSort sort, int offset, int limit)
    {
        var all = new List<Traffic>(engine.KnownCampaigns);
        foreach (var entry in engine.Silo.View.Entries)
        {
            var stats = entry.Stats;
            all.Add(new Traffic(entry.Id, stats.Examples, stats.Clicks, entry, default));
        }

        if (engine.Storage is { } storage)
        {
            foreach (var (id, stored) in storage.Index)
            {
                if (!engine.Silo.View.TryGet(stored.Key, out _))
                {
                    all.Add(new Traffic(id, stored.Stats.Examples, stored.Stats.Clicks, null, stored));
                }
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
            var t = all[i];
            if (t.Active is { } active)
            {
                var model = active.Model;
                page.Add(CampaignSummary.Of(t.Id, model.Coordinates, model.MemoryBytes, active.Stats));
            }
            else
            {
                page.Add(CampaignSummary.Of(t.Id, t.Stored.Coordinates, t.Stored.Bytes, t.Stored.Stats));
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

    private readonly record struct Traffic(string Id, long Examples, double Clicks, CampaignEntry? Active, StoredCampaign Stored);
}
