"""简体中文 catalogue: English source text -> Chinese.  Keep in step with ``tr()`` calls."""

ZH_CN: dict[str, str] = {
    # Application and menus
    "See and use backpropagation: a Numba-compiled autograd engine and a lab that steps "
    "through backward() node by node.":
        "看见并使用反向传播：一个由 Numba 编译的自动求导引擎，以及一个逐节点单步执行 "
        "backward() 的实验室。",
    "Welcome to JitGrad. Press F10 to run backward one node at a time.":
        "欢迎使用 JitGrad。按 F10 每次执行一个反向传播节点。",
    "Open &recent": "最近打开(&R)",
    # Kernel warm-up before the first window (cold Numba cache)
    "Skip": "跳过",
    "Preparing the compute kernels. Numba compiles them once for this computer; later "
    "starts skip this step.":
        "正在准备计算内核。Numba 只需在这台计算机上编译一次，以后启动时会跳过这一步。",
    "{done} of {total} ready, {seconds:.1f} s": "已就绪 {done}/{total}，用时 {seconds:.1f} 秒",
    "Skip opens the lab now; the remaining kernels then compile when first used, with short "
    "pauses.":
        "“跳过”会立即打开实验室；其余内核将在首次使用时编译，届时会有短暂停顿。",
    "The compute kernels could not be prepared ahead of time; they will compile when first "
    "used, with short pauses.":
        "未能提前准备计算内核；它们将在首次使用时编译，届时会有短暂停顿。",
    "&Language": "语言(&L)",
    "&File": "文件(&F)",
    "&Backward": "反向传播(&B)",
    "&View": "视图(&V)",
    "&Help": "帮助(&H)",
    "untitled": "未命名",
    "About JitGrad": "关于 JitGrad",
    "&About JitGrad": "关于 JitGrad(&A)",
    "Versions and credits": "版本与致谢",
    "&Quit": "退出(&Q)",
    "Close JitGrad": "关闭 JitGrad",
    # Toolbar
    "Forward": "前向",
    "Run the forward pass and record the graph (F5)": "执行前向传播并记录计算图 (F5)",
    "Step": "单步",
    "Run backward one node (F10)": "反向传播执行一个节点 (F10)",
    "Run to end": "运行到底",
    "Run the backward pass to the end (Ctrl+Enter)": "把反向传播执行到结束 (Ctrl+Enter)",
    "Zero grads": "梯度清零",
    "Call grad.zero_() on every parameter (Ctrl+0)": "对每个参数调用 grad.zero_() (Ctrl+0)",
    "Detach selected": "分离所选",
    "Replace the selected tensor by tensor.detach() and run forward (Ctrl+D)":
        "用 tensor.detach() 替换所选张量并重新前向 (Ctrl+D)",
    "SGD step": "SGD 更新",
    "p -= lr * p.grad for every parameter, then forward (Ctrl+G)":
        "对每个参数执行 p -= lr * p.grad，然后前向 (Ctrl+G)",
    "Train": "训练",
    "Pause": "暂停",
    "Repeat zero_grad, forward, backward, SGD; click again to pause (Ctrl+T)":
        "循环执行 梯度清零、前向、反向、SGD；再次点击暂停 (Ctrl+T)",
    "Reset": "重置",
    "Restart from fresh parameters (Ctrl+R)": "用新的初始参数重新开始 (Ctrl+R)",
    "Keep the graph's saved values so backward can run again":
        "保留计算图中保存的值，以便可以再次反向传播",
    "Forward without tracking": "前向时不跟踪梯度",
    "Run the forward pass inside torch.no_grad(): no graph":
        "在 torch.no_grad() 中执行前向传播：不记录计算图",
    "lr": "学习率",
    "Learning rate for the SGD step and training": "SGD 更新和训练使用的学习率",
    "Training speed in steps per second": "训练速度（每秒步数）",
    "{n} steps/s": "{n} 步/秒",
    # Files
    "&Open session…": "打开会话(&O)…",
    "Open a saved session (JSON)": "打开已保存的会话 (JSON)",
    "&Save session": "保存会话(&S)",
    "Save the session as JSON": "将会话保存为 JSON",
    "Save session &as…": "会话另存为(&A)…",
    "Save the session under a new name": "以新名称保存会话",
    "Run &script…": "运行脚本(&S)…",
    "Run a Python demo and show the graph it builds": "运行 Python 示例并显示它构建的计算图",
    "Export PNG…": "导出 PNG…",
    "Save the graph as a PNG image": "将计算图保存为 PNG 图片",
    "Export SVG…": "导出 SVG…",
    "Save the graph as an SVG drawing": "将计算图保存为 SVG 矢量图",
    "Open session": "打开会话",
    "Save session": "保存会话",
    "JitGrad sessions (*.json)": "JitGrad 会话 (*.json)",
    "Run script": "运行脚本",
    "Python files (*.py)": "Python 文件 (*.py)",
    "PNG images (*.png)": "PNG 图片 (*.png)",
    "SVG drawings (*.svg)": "SVG 矢量图 (*.svg)",
    "Export graph": "导出计算图",
    "Unsaved changes": "未保存的更改",
    "Save the current session first?": "要先保存当前会话吗？",
    "Could not open {path}: {error}": "无法打开 {path}：{error}",
    "Could not save {path}: {error}": "无法保存 {path}：{error}",
    "Session not opened": "未打开会话",
    "Session not saved": "未保存会话",
    "Graph exported to {path}.": "计算图已导出到 {path}。",
    "Could not export the graph to {path}.": "无法将计算图导出到 {path}。",
    "Session saved to {path}.": "会话已保存到 {path}。",
    "Session opened from {path}.": "已从 {path} 打开会话。",
    "Cannot read {path}: {error}": "无法读取 {path}：{error}",
    # View
    "Fit": "适应窗口",
    "Fit the whole graph in the view (Ctrl+F)": "让整个计算图适应视图 (Ctrl+F)",
    "Zoom in": "放大",
    "Zoom in (Ctrl++ or mouse wheel)": "放大（Ctrl++ 或鼠标滚轮）",
    "Zoom out": "缩小",
    "Zoom out (Ctrl+- or mouse wheel)": "缩小（Ctrl+- 或鼠标滚轮）",
    "Backward graph": "反向图",
    "Show the grad_fn nodes that backward runs (Ctrl+B)":
        "显示反向传播执行的 grad_fn 节点 (Ctrl+B)",
    "Forward graph": "前向图",
    "Show the forward operations and tensors (Ctrl+Shift+B)": "显示前向运算和张量 (Ctrl+Shift+B)",
    "Network": "网络",
    "Inspector": "检查器",
    "Plots": "图表",
    "Code": "代码",
    "Log": "日志",
    "Accumulation": "梯度累积",
    "about to run": "即将执行",
    "just ran": "刚执行",
    "done": "已完成",
    "Hover a node for its value and gradient; click it to inspect it.":
        "鼠标悬停在节点上查看其值和梯度；点击节点在检查器中查看。",
    "No Chinese font is installed, so Chinese text may show as boxes. On Debian/Ubuntu: "
    "sudo apt install fonts-wqy-microhei":
        "未安装中文字体，中文可能显示为方框。Debian/Ubuntu 上请运行："
        "sudo apt install fonts-wqy-microhei",
    # Status and log
    "No graph recorded.": "没有记录计算图。",
    "Backward pass {k}: {done} of {n} nodes done; next: {next}.":
        "第 {k} 次反向传播：已完成 {done}/{n} 个节点；下一个：{next}。",
    "{n} graph nodes; {calls} backward calls so far. Press F10 to step.":
        "计算图共 {n} 个节点；已反向传播 {calls} 次。按 F10 单步执行。",
    "loss = {loss:.5f}": "损失 = {loss:.5f}",
    "Backward finished and freed the graph's saved values: press F5 for a new graph (or tick "
    "retain_graph next time).":
        "反向传播已结束并释放了计算图保存的值：按 F5 记录新的计算图（或下次先勾选 retain_graph）。",
    "Select a tensor (or its node) in the graph first.": "请先在计算图中选择一个张量（或其节点）。",
    "This node has no named tensor to detach.": "此节点没有可分离的命名张量。",
    "Training started.": "开始训练。",
    "Training paused; loss = {loss:.5f}.": "训练已暂停；损失 = {loss:.5f}。",
    "Preset loaded: {name}.": "已载入预设：{name}。",
    "Backward pass {n} finished.": "第 {n} 次反向传播完成。",
    "SGD step with lr={lr:g} on {names}.": "对 {names} 执行了 SGD 更新，lr={lr:g}。",
    "Session reset.": "会话已重置。",
    "Step {i}: {node} → {name}.grad updated.": "第 {i} 步：{node} → 已更新 {name}.grad。",
    "Step {i}: {node} ran ({n} left).": "第 {i} 步：执行了 {node}（还剩 {n} 个）。",
    "Gradients zeroed: {names}.": "已清零梯度：{names}。",
    "No gradients to zero yet.": "还没有需要清零的梯度。",
    "Detach works on the built-in networks, not on scripts.":
        "分离只适用于内置网络，不适用于脚本。",
    "Select a tensor other than the loss to detach.": "请选择损失以外的张量进行分离。",
    "{name} is attached to the graph again.": "{name} 已重新接入计算图。",
    "{name} detached: its branch no longer receives gradients.":
        "{name} 已分离：它的分支不再接收梯度。",
    "Run backward first: no parameter has a gradient yet.": "请先执行反向传播：还没有参数有梯度。",
    "Training needs a network with a scalar loss.": "训练需要一个输出标量损失的网络。",
    "Forward pass without tracking: no graph was recorded.":
        "不跟踪梯度的前向传播：没有记录计算图。",
    "Forward pass: {n} graph nodes recorded.": "前向传播：记录了 {n} 个计算图节点。",
    "The unfinished backward pass was abandoned.": "未完成的反向传播已被放弃。",
    "There is no graph yet: run Forward first.": "还没有计算图：请先执行前向传播。",
    "The script raised an exception:": "脚本抛出了异常：",
    "The script stopped with an error; the traceback is in the log.":
        "脚本因错误而停止；回溯信息在日志中。",
    "Script {name} finished; graph of '{root}' ready to step.":
        "脚本 {name} 已运行完毕；'{root}' 的计算图可以单步执行了。",
    "Script {name} finished but left no tensor with a grad_fn.":
        "脚本 {name} 已运行完毕，但没有留下带 grad_fn 的张量。",
    "Log saved to {path}.": "日志已保存到 {path}。",
    # Errors explained
    "The engine refused this operation; its exact message is in the log.":
        "引擎拒绝了此操作；确切信息见日志。",
    "The first backward pass freed the values this graph saved; tick retain_graph before "
    "backpropagating twice, or run Forward again.":
        "第一次反向传播已释放计算图保存的值；要再次反向传播，请先勾选 retain_graph，"
        "或重新执行前向传播。",
    "The forward pass ran without tracking (no_grad), so there is no graph to "
    "backpropagate through; untick it and run Forward.":
        "前向传播在不跟踪梯度 (no_grad) 的模式下运行，所以没有可反向传播的计算图；"
        "请取消勾选并重新执行前向传播。",
    "A value the backward pass needs was changed in place; run Forward again to record a "
    "fresh graph.":
        "反向传播需要的某个值已被原地修改；请重新执行前向传播以记录新的计算图。",
    # Validation
    "value": "值",
    "input size n": "输入大小 n",
    "hidden size": "隐藏层大小",
    "output size m": "输出大小 m",
    "seed": "随机种子",
    "learning rate": "学习率",
    "{value} is not allowed in a session file.": "会话文件中不允许出现 {value}。",
    "Unknown preset {name!r}.": "未知的预设 {name!r}。",
    "{where}: {value} is not a number.": "{where}：{value} 不是数字。",
    "{where}: {value} is not a finite number.": "{where}：{value} 不是有限数。",
    "{where}: {value} is too large (limit ±1e6).": "{where}：{value} 太大（上限 ±1e6）。",
    "{where}: {value} is not a whole number.": "{where}：{value} 不是整数。",
    "{where} must be between {lo} and {hi}, not {value}.":
        "{where} 必须在 {lo} 到 {hi} 之间，而不是 {value}。",
    "Unknown loss {name!r}.": "未知的损失函数 {name!r}。",
    "Unknown activation {name!r}.": "未知的激活函数 {name!r}。",
    "The learning rate must be in (0, 10], not {value}.":
        "学习率必须在 (0, 10] 之内，而不是 {value}。",
    "Tensor values are missing or malformed.": "张量的值缺失或格式错误。",
    "The network settings must be a JSON object.": "网络设置必须是一个 JSON 对象。",
    "Unknown setting(s): {names}.": "未知的设置：{names}。",
    "The file is too large to be a JitGrad session.": "文件太大，不可能是 JitGrad 会话。",
    "This is not a JitGrad session file.": "这不是 JitGrad 会话文件。",
    "Unsupported session version {v!r}.": "不支持的会话版本 {v!r}。",
    "The options must be a JSON object.": "选项必须是一个 JSON 对象。",
    "Option {name} must be a list of tensor names.": "选项 {name} 必须是张量名称的列表。",
    "Option {name} must be true or false.": "选项 {name} 必须是 true 或 false。",
    "'{text}' is not a number.": "'{text}' 不是数字。",
    "The value of {name} is missing.": "缺少 {name} 的值。",
    "{name} must have shape {shape}.": "{name} 的形状必须是 {shape}。",
    "The file is not valid JSON ({error}).": "文件不是有效的 JSON（{error}）。",
    "The file is not UTF-8 text.": "文件不是 UTF-8 文本。",
    "requires_grad of {name} must be true or false.":
        "{name} 的 requires_grad 必须是 true 或 false。",
    "{name}{index}: {error} Kept {old}.": "{name}{index}：{error} 已保留 {old}。",
    # Presets and accumulation
    "One-layer network": "单层网络",
    "Gradient accumulation": "梯度累积",
    "Two-layer MLP": "两层 MLP",
    "First call": "第一次调用",
    "Second call": "第二次调用",
    "Call after zeroing": "清零后调用",
    "Call {n}": "第 {n} 次调用",
    "Gradients accumulate: each backward call adds into .grad until you zero it (Ctrl+0). "
    "Columns show .grad after each call.":
        "梯度会累积：每次调用 backward 都会加到 .grad 上，直到你将其清零 (Ctrl+0)。"
        "每一列是每次调用后的 .grad。",
    # Graph and inspector
    "{n} values, min {lo:.4g}, max {hi:.4g}, norm {norm:.4g}":
        "{n} 个值，最小 {lo:.4g}，最大 {hi:.4g}，范数 {norm:.4g}",
    "The forward pass ran inside no_grad, so no graph was recorded. Untick “Forward without "
    "tracking” and run Forward (F5).":
        "前向传播在 no_grad 中运行，所以没有记录计算图。请取消勾选“前向时不跟踪梯度”"
        "并执行前向传播 (F5)。",
    "Nothing the output depends on requires grad (every branch is frozen or detached), so "
    "there is no graph.":
        "输出所依赖的张量都不需要梯度（每个分支都被冻结或分离），所以没有计算图。",
    "shape": "形状",
    "scalar": "标量",
    "gradient": "梯度",
    "no gradient yet": "尚无梯度",
    "Click a node in the graph to inspect it.": "点击计算图中的节点进行查看。",
    "Selected": "已选择",
    # Network editor
    "parameter": "参数",
    "input": "输入",
    "expected output": "期望输出",
    "Untick to freeze this tensor: its branch leaves the graph":
        "取消勾选以冻结此张量：它的分支将从计算图中移除",
    "Preset": "预设",
    "Input size n": "输入大小 n",
    "Hidden size": "隐藏层大小",
    "Output size m": "输出大小 m",
    "Size n": "大小 n",
    "Loss": "损失",
    "Activation": "激活函数",
    "Seed": "随机种子",
    "BCE with logits": "带 logits 的二元交叉熵",
    "Mean squared error": "均方误差",
    "none": "无",
    "Randomise": "随机化",
    "New random w and b from this seed": "用这个种子生成新的随机 w 和 b",
    "From {lo} to {hi}": "从 {lo} 到 {hi}",
    "'{text}' refused: sizes go from {lo} to {hi}.": "已拒绝 '{text}'：大小范围是 {lo} 到 {hi}。",
    "Showing the graph built by the script {path}. Pick a preset to edit a network again.":
        "正在显示脚本 {path} 构建的计算图。选择一个预设即可重新编辑网络。",
    # Plots and panels
    "Gradient norm per backward call": "每次反向传播的梯度范数",
    "No scalar loss to plot (the output is a tensor).": "没有可绘制的标量损失（输出是张量）。",
    "backward call": "反向传播次数",
    "forward pass": "前向传播次数",
    "loss": "损失",
    "Copy": "复制",
    "Copy the whole log to the clipboard": "将整个日志复制到剪贴板",
    "Save…": "保存…",
    "Save the log as a text file": "将日志保存为文本文件",
    "Clear": "清空",
    "Save log": "保存日志",
    "Text files (*.txt)": "文本文件 (*.txt)",
    "Dismiss": "关闭",
    # Scripts in a worker thread, autosave and recovery, hostile files
    "Running script {path}… (Stop: Ctrl+.)": "正在运行脚本 {path}…（停止：Ctrl+.）",
    "Unsaved work restored from {path}.": "已从 {path} 恢复未保存的工作。",
    "Stop script": "停止脚本",
    "Interrupt the running script (Ctrl+.)": "中断正在运行的脚本 (Ctrl+.)",
    "A script is already running; stop it first.": "已有脚本在运行，请先停止它。",
    "Stopping the script…": "正在停止脚本…",
    "… {n} earlier output lines not shown.": "… 之前的 {n} 行输出未显示。",
    "The script did not stop (it is inside a blocking call); it was abandoned and its "
    "result will be ignored.":
        "脚本没有停止（它正处于一个阻塞调用中）；已放弃该脚本，其结果将被忽略。",
    "Restore unsaved work?": "恢复未保存的工作？",
    "JitGrad did not close properly last time. Restore the unsaved session?":
        "JitGrad 上次没有正常关闭。要恢复未保存的会话吗？",
    "Script {name} stopped after {s:.1f} s.": "脚本 {name} 在 {s:.1f} 秒后被停止。",
    "The recovery file {path} is unusable ({error}); it was set aside.":
        "恢复文件 {path} 无法使用（{error}），已将其移到一旁。",
    "Autosave to {path} failed: {error}": "自动保存到 {path} 失败：{error}",
    "This is a folder, not a file": "这是一个文件夹，不是文件",
    "This is a folder, not a session file.": "这是一个文件夹，不是会话文件。",
    "This is not a regular file.": "这不是普通文件。",
    "The file is too large to be a JitGrad session ({size} MB; the limit is 1 MB).":
        "文件太大，不可能是 JitGrad 会话（{size} MB；上限为 1 MB）。",
    "The file holds binary data, not JSON text.": "文件包含二进制数据，而不是 JSON 文本。",
    "The JSON is nested too deeply to be a session file.": "JSON 嵌套太深，不可能是会话文件。",
    "The file does not exist.": "文件不存在。",
    "The file cannot be read ({error}).": "无法读取文件（{error}）。",
    "Script {name} stopped.": "脚本 {name} 已停止。",
    "The SGD step works on the built-in networks, not on scripts.":
        "SGD 更新只适用于内置网络，不适用于脚本。",
    "Training diverged: {names} left the range ±1e6 (or became NaN) and were clamped.":
        "训练发散：{names} 超出了 ±1e6 的范围（或变成了 NaN），已被截断。",
    "Lower the learning rate, or press Reset to start again.": "请降低学习率，或按“重置”重新开始。",
    # jitgrad compat (gui/compat.py)
    "file": "文件",
    "runs on engine?": "能在引擎上运行？",
    "first error": "第一个错误",
    "numbers compared": "比较的数值个数",
    "largest difference": "最大差异",
    "torch vs torch": "torch 自身差异",
    "within twice torch's own spread": "在 torch 自身波动的两倍以内",
    "match?": "一致？",
    "yes": "是",
    "no": "否",
    "abs": "绝对",
    "no (numbers differ)": "否（数值不同）",
    "no (engine error)": "否（引擎出错）",
    "no (torch error)": "否（torch 出错）",
    "no (timeout)": "否（超时）",
    "timed out after {s:g} s": "{s:g} 秒后超时",
    "the engine raises the same error": "引擎抛出同样的错误",
    "torch: {error}": "torch：{error}",
    "torch printed {a} numbers, the engine {b}": "torch 打印了 {a} 个数值，引擎打印了 {b} 个",
    "no such file or folder: {path}": "没有这个文件或文件夹：{path}",
    "{n} of {m} run unchanged and match torch":
        "{m} 个脚本中有 {n} 个无需修改即可运行，且与 torch 一致",
    "{n} of {m} run unchanged on the engine (torch is not installed: nothing compared)":
        "{m} 个脚本中有 {n} 个无需修改即可在引擎上运行（未安装 torch：没有比较）",
}
