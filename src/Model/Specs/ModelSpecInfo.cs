using System.Collections.Immutable;
using OpenMoE.Kernels;

namespace OpenMoE.Model.Specs;

/// <summary>
/// Calls a generic method specialised on a spec's dims struct, so code that picked a spec by
/// name at run time can run kernels compiled for that size.
/// </summary>
public interface IDimsVisitor<out TResult>
{
    /// <summary>Runs with <typeparamref name="TDims"/> = the spec's generated <c>Dims</c> struct.</summary>
    TResult Visit<TDims>() where TDims : struct, IModelDims;
}

/// <summary>
/// Everything the generator emits for one spec, as one registry entry (see the generated
/// <c>ModelSpecs.All</c> / <c>ModelSpecs.Find</c>).
/// </summary>
public abstract class ModelSpecInfo
{
    private readonly Lazy<ImmutableArray<ParameterInfo>> parameters;

    private protected ModelSpecInfo(
        ModelConfig config,
        Func<ImmutableArray<ParameterInfo>> buildParameters,
        long totalParams,
        long activatedParams,
        long activatedParamsWithEmbeddings,
        string specHash,
        PaperFigures? paperFigures)
    {
        Config = config;
        parameters = new Lazy<ImmutableArray<ParameterInfo>>(buildParameters);
        TotalParams = totalParams;
        ActivatedParams = activatedParams;
        ActivatedParamsWithEmbeddings = activatedParamsWithEmbeddings;
        SpecHash = specHash;
        PaperFigures = paperFigures;
    }

    /// <summary>Spec name, e.g. "OpenMoE-Base/16E".</summary>
    public string Name => Config.Name;
    /// <summary>Every size number of the model.</summary>
    public ModelConfig Config { get; }
    /// <summary>Every parameter tensor in checkpoint order (built on first use).</summary>
    public ImmutableArray<ParameterInfo> Parameters => parameters.Value;
    /// <summary>Exact number of parameters, embedding and LM head included.</summary>
    public long TotalParams { get; }
    /// <summary>Parameters used for one token, excluding the embedding and LM-head matrices (the OpenMoE paper's convention).</summary>
    public long ActivatedParams { get; }
    /// <summary><see cref="ActivatedParams"/> plus the embedding and LM-head matrices (Mixtral's convention).</summary>
    public long ActivatedParamsWithEmbeddings { get; }
    /// <summary>Stable hash of every config field (FNV-1a 64, 16 hex digits); checkpoints store it.</summary>
    public string SpecHash { get; }
    /// <summary>The published figures for this size, or null for sizes no paper describes.</summary>
    public PaperFigures? PaperFigures { get; }

    /// <summary>Calls <paramref name="visitor"/> with this spec's dims struct as the type argument.</summary>
    public abstract TResult Dispatch<TResult>(IDimsVisitor<TResult> visitor);

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>A registry entry whose dims struct is <typeparamref name="TDims"/>.</summary>
public sealed class ModelSpecInfo<TDims> : ModelSpecInfo
    where TDims : struct, IModelDims
{
    /// <summary>Used by generated code only.</summary>
    public ModelSpecInfo(
        ModelConfig config,
        Func<ImmutableArray<ParameterInfo>> buildParameters,
        long totalParams,
        long activatedParams,
        long activatedParamsWithEmbeddings,
        string specHash,
        PaperFigures? paperFigures)
        : base(config, buildParameters, totalParams, activatedParams, activatedParamsWithEmbeddings, specHash, paperFigures)
    {
    }

    /// <inheritdoc/>
    public override TResult Dispatch<TResult>(IDimsVisitor<TResult> visitor) => visitor.Visit<TDims>();
}
