using System.Runtime.InteropServices;
using AdCtr.Learning.Ftrl;
using AdCtr.Learning.Models;

namespace AdCtr.Simulator.Evaluation;

/// <summary>
/// Learns a chunk of rows the way the server learns one posted batch (CtrEngine.LearnAsync, issue 15): the rows without
/// a campaign first, then each campaign's rows in order, campaigns in the order of their first row, one row after
/// another (the server runs each campaign's rows in one grain turn, the turns one after another). <c>adctr-sim eval
/// --batch N</c> uses it to replay what a server posted batches of N learned, bit for bit.
/// </summary>
internal sealed class BatchTurns
{
    private readonly Dictionary<ulong, int> _turnOf = [];
    private int[] _turn = new int[EncodedChunk.DefaultCapacity];
    private int[] _start = new int[16];
    private int[] _rows = new int[EncodedChunk.DefaultCapacity];
    private double[] _predictions = new double[EncodedChunk.DefaultCapacity];

    /// <summary>Learns the chunk as one batch; returns each row's progressive prediction, in row order.</summary>
    public ReadOnlySpan<double> Learn(GlmixModel model, EncodedChunk chunk)
    {
        var count = chunk.Count;
        if (_turn.Length < count)
        {
            _turn = new int[count];
            _rows = new int[count];
            _predictions = new double[count];
        }

        // Turn 0: the rows without a campaign; turn t > 0: the campaign whose first row comes t-th.
        _turnOf.Clear();
        for (var i = 0; i < count; i++)
        {
            if (!chunk.HasCampaign[i])
            {
                _turn[i] = 0;
                continue;
            }

            ref var turn = ref CollectionsMarshal.GetValueRefOrAddDefault(_turnOf, chunk.CampaignKeys[i], out var exists);
            if (!exists)
            {
                turn = _turnOf.Count;
            }

            _turn[i] = turn;
        }

        // A stable counting sort of the rows by turn: each turn's rows stay in row order.
        var turns = _turnOf.Count + 1;
        if (_start.Length < turns + 1)
        {
            _start = new int[Math.Max(turns + 1, _start.Length * 2)];
        }

        Array.Clear(_start, 0, turns + 1);
        for (var i = 0; i < count; i++)
        {
            _start[_turn[i] + 1]++;
        }

        for (var t = 0; t < turns; t++)
        {
            _start[t + 1] += _start[t];
        }

        for (var i = 0; i < count; i++)
        {
            _rows[_start[_turn[i]]++] = i;
        }

        var global = model.Global;
        SparseFtrlModel? campaign = null;
        var current = -1;
        for (var r = 0; r < count; r++)
        {
            var i = _rows[r];
            if (_turn[i] != current)
            {
                current = _turn[i];
                campaign = chunk.HasCampaign[i] ? model.CampaignFor(chunk.CampaignKeys[i]) : null;
            }

            _predictions[i] = GlmixSpans.Learn(
                global, campaign, chunk.GlobalIndices(i), chunk.GlobalValues(i), chunk.CampaignIndices(i), chunk.CampaignValues(i), chunk.Labels[i], chunk.Weights[i]);
        }

        return _predictions.AsSpan(0, count);
    }
}
