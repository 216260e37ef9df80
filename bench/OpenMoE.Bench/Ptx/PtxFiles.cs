using System.Text.RegularExpressions;
using OpenMoE.Runtime.SelfTest;
using OpenMoE.Runtime.Ptx;

namespace OpenMoE.Bench.Ptx;

/// <summary>Writes the PTX of every kernel in <see cref="KernelCatalog.EntryPoints"/> as <c>DIR/sm_XX/Kernel.Name.ptx</c>.</summary>
public static partial class PtxFiles
{
    /// <summary>Compiles each kernel for <paramref name="target"/>; returns the file per kernel name, in catalog order.</summary>
    public static IReadOnlyList<(string Kernel, string Path)> Write(string folder, PtxTarget target)
    {
        string dir = Path.Combine(folder, target.Name);
        Directory.CreateDirectory(dir);
        var files = new List<(string, string)>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in KernelCatalog.EntryPoints)
        {
            string path = Path.Combine(dir, FileName(entry.Name) + ".ptx");
            // Two kernels in one file would make ptxas's report ambiguous: fail rather than overwrite.
            if (!used.Add(path))
                throw new InvalidOperationException($"two kernels map to {path}; rename one of them ({entry.Name})");
            string ptx;
            try
            {
                ptx = PtxCompiler.Compile(entry.Method, target);
            }
            catch (Exception error) when (error is not OutOfMemoryException)
            {
                // ILGPU's own message does not say which kernel it was compiling; CI output must.
                throw new InvalidOperationException($"ILGPU could not compile kernel {entry.Name} to PTX for {target.Name}: {error.Message}", error);
            }
            File.WriteAllText(path, ptx);
            files.Add((entry.Name, path));
        }
        return files;
    }

    /// <summary><c>Attention.Causal&lt;TDims&gt;</c> becomes <c>Attention.Causal_TDims</c>: a file name on any OS.</summary>
    public static string FileName(string kernel) => Unsafe().Replace(kernel, "_").TrimEnd('_');

    [GeneratedRegex("[^A-Za-z0-9._-]+")]
    private static partial Regex Unsafe();
}
