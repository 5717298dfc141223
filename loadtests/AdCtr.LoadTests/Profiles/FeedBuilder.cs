using AdCtr.LoadTests.Engine;

namespace AdCtr.LoadTests.Profiles;

/// <summary>Sends one setup request (outside the measured load) and returns its status and body.</summary>
public delegate Task<(int Status, byte[] Body)> SetupCall(LoadRequest request, CancellationToken cancellationToken);

/// <summary>
/// Turns a profile into its <see cref="RequestFeed"/>: the mix is allocated exactly over <c>poolSize</c> slots
/// (largest remainder, at least one slot per kind), the kinds are shuffled with the profile's seed, and each
/// kind's bodies fill its slots in order (so an event stream keeps its time order).
/// </summary>
public static class FeedBuilder
{
    /// <summary>Candidates per predict call used to obtain impression ids.</summary>
    public const int HarvestCandidates = 10;

    public static bool NeedsHarvest(LoadProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        foreach (var entry in profile.Mix)
        {
            if (entry.Kind is "events" or "impressions" or "clicks")
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Slots per mix entry: exact proportions by largest remainder, at least one each.</summary>
    public static int[] Allocate(IReadOnlyList<MixEntry> mix, int slots)
    {
        ArgumentNullException.ThrowIfNull(mix);
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, mix.Count);
        var total = 0.0;
        foreach (var entry in mix)
        {
            total += entry.Weight;
        }

        var counts = new int[mix.Count];
        var remainders = new double[mix.Count];
        var used = 0;
        for (var i = 0; i < mix.Count; i++)
        {
            var exact = mix[i].Weight / total * slots;
            counts[i] = Math.Max(1, (int)Math.Floor(exact));
            remainders[i] = exact - Math.Floor(exact);
            used += counts[i];
        }

        // Hand out the rest by largest remainder (ties to the earlier entry); take back from the largest if over.
        while (used < slots)
        {
            var best = 0;
            for (var i = 1; i < mix.Count; i++)
            {
                if (remainders[i] > remainders[best]) best = i;
            }

            counts[best]++;
            remainders[best] = -1;
            used++;
            if (Array.TrueForAll(remainders, r => r < 0))
            {
                Array.Fill(remainders, 0);
            }
        }

        while (used > slots)
        {
            var largest = 0;
            for (var i = 1; i < mix.Count; i++)
            {
                if (counts[i] > counts[largest]) largest = i;
            }

            counts[largest]--;
            used--;
        }

        return counts;
    }

    public static async Task<RequestFeed> BuildAsync(LoadProfile profile, SetupCall? setup, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var factory = new BodyFactory(profile.Seed, profile.Data, now.AddMinutes(-2));
        var slots = Math.Max(profile.Mix.Count, profile.Data.PoolSize);
        var counts = Allocate(profile.Mix, slots);

        List<List<HarvestedImpression>> harvested = [];
        if (NeedsHarvest(profile))
        {
            if (setup is null)
            {
                throw new InvalidOperationException(profile.Name + ": events need impression ids from the server, and no server call was given");
            }

            harvested = await HarvestAsync(factory, setup, profile.Data.HarvestImpressions, cancellationToken).ConfigureAwait(false);
        }

        var bodies = new List<LoadRequest>[profile.Mix.Count];
        for (var m = 0; m < profile.Mix.Count; m++)
        {
            bodies[m] = BuildKind(profile.Mix[m], counts[m], factory, harvested, now.AddMinutes(-1));
        }

        // Shuffle the kind labels (Fisher-Yates, seeded), then deal each kind's bodies in order.
        var labels = new int[slots];
        var k = 0;
        for (var m = 0; m < counts.Length; m++)
        {
            for (var c = 0; c < counts[m]; c++)
            {
                labels[k++] = m;
            }
        }

        for (var i = labels.Length - 1; i > 0; i--)
        {
            var j = factory.Next(i + 1);
            (labels[i], labels[j]) = (labels[j], labels[i]);
        }

        var taken = new int[profile.Mix.Count];
        var sequence = new LoadRequest[slots];
        for (var i = 0; i < slots; i++)
        {
            var m = labels[i];
            sequence[i] = bodies[m][taken[m]++ % bodies[m].Count];
        }

        return new RequestFeed(sequence);
    }

    private static List<LoadRequest> BuildKind(MixEntry entry, int count, BodyFactory factory, List<List<HarvestedImpression>> harvested, DateTimeOffset shownAt)
    {
        var list = new List<LoadRequest>(count);
        switch (entry.Kind)
        {
            case "predict":
            case "echo":
                var path = entry.Kind == "echo" ? "/echo" : "/v1/predict";
                for (var i = 0; i < count; i++)
                {
                    list.Add(new LoadRequest(entry.Kind, path, BodyFactory.JsonType, factory.Predict(entry.Candidates)));
                }

                break;
            case "examples":
                for (var i = 0; i < count; i++)
                {
                    list.Add(new LoadRequest(entry.Kind, "/v1/examples", BodyFactory.NdjsonType, factory.Examples(entry.Batch)));
                }

                break;
            case "events":
            {
                var all = new List<HarvestedImpression>();
                foreach (var group in harvested)
                {
                    all.AddRange(group);
                }

                foreach (var body in factory.EventBatches(all, entry.Batch))
                {
                    list.Add(new LoadRequest(entry.Kind, "/v1/events", BodyFactory.NdjsonType, body));
                }

                break;
            }
            case "impressions":
                for (var i = 0; i < Math.Min(count, harvested.Count); i++)
                {
                    list.Add(new LoadRequest(entry.Kind, "/v1/events", BodyFactory.NdjsonType, factory.TopImpressions(harvested[i], entry.Batch, shownAt)));
                }

                break;
            case "clicks":
                for (var i = 0; i < count; i++)
                {
                    // A click on one of the top ads of a random harvested response (the ads that were shown).
                    var group = harvested[factory.Next(harvested.Count)];
                    var shown = group.OrderByDescending(p => p.Ctr).ThenBy(p => p.ImpressionId, StringComparer.Ordinal).Take(3).ToList();
                    var clicked = new List<HarvestedImpression>(entry.Batch);
                    for (var c = 0; c < entry.Batch; c++)
                    {
                        clicked.Add(shown[factory.Next(shown.Count)]);
                    }

                    list.Add(new LoadRequest(entry.Kind, "/v1/events", BodyFactory.NdjsonType, factory.Clicks(clicked, shownAt)));
                }

                break;
            default:
                throw new InvalidDataException("unknown mix kind '" + entry.Kind + "'");
        }

        if (list.Count == 0)
        {
            throw new InvalidOperationException("no bodies for mix kind '" + entry.Kind + "' (no impressions were obtained)");
        }

        return list;
    }

    /// <summary>Calls predict (10 candidates each, 4 at a time) until <paramref name="impressions"/> ids are collected; bounded by 30 s.</summary>
    private static async Task<List<List<HarvestedImpression>>> HarvestAsync(BodyFactory factory, SetupCall setup, int impressions, CancellationToken cancellationToken)
    {
        var calls = (impressions + HarvestCandidates - 1) / HarvestCandidates;
        var requests = new LoadRequest[calls];
        for (var i = 0; i < calls; i++)
        {
            requests[i] = new LoadRequest("predict", "/v1/predict", BodyFactory.JsonType, factory.Predict(HarvestCandidates));
        }

        var results = new List<HarvestedImpression>[calls];
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        await Parallel.ForAsync(0, calls, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = deadline.Token }, async (i, ct) =>
        {
            var (status, body) = await setup(requests[i], ct).ConfigureAwait(false);
            if (status != 200)
            {
                throw new InvalidOperationException("obtaining impression ids: POST /v1/predict returned " + status);
            }

            results[i] = BodyFactory.ParsePredictions(body);
        }).ConfigureAwait(false);
        return [.. results];
    }
}
