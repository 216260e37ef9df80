using ILGPU.Runtime;
using OpenMoE.Model.Network;
using OpenMoE.Model.Parallel;
using OpenMoE.Runtime.Communication;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Training;

/// <summary>
/// The gradient step of an expert- and data-parallel job, between the backward and the optimizer:
/// every rank's gradients are its part of its replica's loss, so a replicated tensor's gradient is the
/// sum over all ranks divided by D (replicas average), and an expert tensor's is the sum over the D
/// ranks holding that shard divided by D. Then one global-norm clip: the norm counts every replicated
/// tensor once and every expert of the model once (squares summed over the replica's expert shards),
/// so it is the norm one process would see, and every rank scales by the same factor.
/// Host staging: the gradients go through host arrays for MPI (the CPU accelerator's buffers are host
/// memory already; a CUDA job would reduce device buffers with NCCL behind the same communicator).
/// </summary>
public sealed class ParallelGradients
{
    private readonly ComputeDevice _device;
    private readonly ParallelLayout _layout;
    private readonly bool[] _expert;
    private readonly float[][] _host;

    /// <summary>Staging for <paramref name="parameters"/> (this rank's tensors) on <paramref name="layout"/>.</summary>
    public ParallelGradients(ComputeDevice device, ParallelLayout layout, DeviceParameters parameters)
    {
        _device = device;
        _layout = layout;
        _expert = Array.ConvertAll(parameters.Infos, ExpertTensors.IsRoutedExpert);
        _host = Array.ConvertAll(parameters.Infos, p => new float[p.Elements]);
    }

    /// <summary>
    /// Averages the gradients over the ranks (see the class), then scales them all by maxNorm / norm
    /// when the global norm exceeds <paramref name="maxNorm"/> (> 0). Returns the global norm before clipping.
    /// </summary>
    public double ReduceAndClip(DeviceParameters parameters, double maxNorm)
    {
        _device.Synchronize();
        float scale = 1f / _layout.DataParallelSize;
        double replicated = 0, experts = 0;
        for (int i = 0; i < parameters.Gradients.Length; i++)
        {
            var host = _host[i];
            parameters.Gradients[i].CopyToCPU(host);
            var group = _expert[i] ? _layout.DataGroup : _layout.World;
            if (group.Size > 1)
                group.AllReduceSum(host);
            double squares = 0;
            for (int j = 0; j < host.Length; j++)
            {
                host[j] *= scale;
                squares += (double)host[j] * host[j];
            }
            if (_expert[i]) experts += squares; else replicated += squares;
            parameters.Gradients[i].CopyFromCPU(host);
        }
        var expertSquares = new[] { experts };
        _layout.ExpertGroup.AllReduceSum(expertSquares);
        double norm = Math.Sqrt(replicated + expertSquares[0]);
        if (maxNorm > 0 && norm > maxNorm)
        {
            float factor = (float)(maxNorm / norm);
            foreach (var g in parameters.Gradients)
                _device.Optimizers.Scale(g, g.Length, factor);
        }
        return norm;
    }
}
